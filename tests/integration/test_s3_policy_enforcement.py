"""Bucket policies enforced on S3 requests: an explicit Deny stops even the bucket owner (but
never locks the owner's root user out of the policy itself), an Allow lets another account
in, conditions (aws:SourceIp, aws:SecureTransport, s3:prefix, aws:PrincipalAccount) decide,
and a denied request answers S3's AccessDenied (403) document."""
import json
import os
import time
import unittest

import botocore.exceptions

from vigil_testing import ServerTestCase

PATH_STYLE = {"s3": {"addressing_style": "path"}}
OWNER = "000000000000"
OTHER = "222222222222"

CONFIG = """
dev_credentials = true
[[accounts]]
id = "000000000000"
[[accounts.users]]
name = "alice"
access_key_id = "AKIAALICE"
secret_access_key = "alice-secret"
[[accounts]]
id = "222222222222"
[[accounts.users]]
name = "bob"
access_key_id = "AKIABOB"
secret_access_key = "bob-secret"
"""


def denied(test, call):
    with test.assertRaises(botocore.exceptions.ClientError, msg=str(call)) as ctx:
        call()
    response = ctx.exception.response
    test.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 403)
    if response["Error"].get("Code") not in ("403", "Forbidden"):  # HEAD answers carry no body
        test.assertEqual(response["Error"]["Code"], "AccessDenied")
        test.assertEqual(response["Error"]["Message"], "Access Denied")


class PolicyTestCase(ServerTestCase):
    server_config = CONFIG

    def setUp(self):
        super().setUp()
        self.owner = self.server.client("s3", **PATH_STYLE)
        self.alice = self.server.client("s3", access_key="AKIAALICE", secret_key="alice-secret", **PATH_STYLE)
        self.bob = self.server.client("s3", access_key="AKIABOB", secret_key="bob-secret", **PATH_STYLE)
        self.bucket = "guarded"
        self.owner.create_bucket(Bucket=self.bucket)
        self.owner.put_object(Bucket=self.bucket, Key="public/readme.txt", Body=b"hello")
        self.owner.put_object(Bucket=self.bucket, Key="protected/keep.txt", Body=b"keep")

    def policy(self, *statements):
        self.owner.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))

    def arn(self, suffix=""):
        return "arn:aws:s3:::%s%s" % (self.bucket, suffix)


class DenyOwner(PolicyTestCase):
    def test_deny_applies_to_the_owner(self):
        self.policy({"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                     "Resource": self.arn("/protected/*")})
        denied(self, lambda: self.owner.delete_object(Bucket=self.bucket, Key="protected/keep.txt"))
        self.owner.delete_object(Bucket=self.bucket, Key="public/readme.txt")  # outside the denied resource
        # DeleteObjects decides per key.
        self.owner.put_object(Bucket=self.bucket, Key="public/a", Body=b"a")
        result = self.owner.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": "public/a"}, {"Key": "protected/keep.txt"}]})
        self.assertEqual([d["Key"] for d in result.get("Deleted", [])], ["public/a"])
        self.assertEqual([(e["Key"], e["Code"]) for e in result["Errors"]], [("protected/keep.txt", "AccessDenied")])
        self.assertEqual(self.owner.get_object(Bucket=self.bucket, Key="protected/keep.txt")["Body"].read(), b"keep")
        # Other actions on the same objects are untouched.
        self.owner.put_object(Bucket=self.bucket, Key="protected/new.txt", Body=b"new")

    def test_deny_everything_keeps_the_root_user_in_control_of_the_policy(self):
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [self.arn(), self.arn("/*")]})
        denied(self, lambda: self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        denied(self, lambda: self.owner.head_object(Bucket=self.bucket, Key="public/readme.txt"))
        denied(self, lambda: self.owner.put_object(Bucket=self.bucket, Key="x", Body=b"x"))
        denied(self, lambda: self.owner.list_objects_v2(Bucket=self.bucket))
        denied(self, lambda: self.owner.head_bucket(Bucket=self.bucket))
        denied(self, lambda: self.owner.create_multipart_upload(Bucket=self.bucket, Key="mp"))
        denied(self, lambda: self.owner.list_multipart_uploads(Bucket=self.bucket))
        denied(self, lambda: self.owner.delete_bucket(Bucket=self.bucket))
        # An IAM user of the owner account is denied even the policy operations ...
        denied(self, lambda: self.alice.get_bucket_policy(Bucket=self.bucket))
        denied(self, lambda: self.alice.delete_bucket_policy(Bucket=self.bucket))
        # ... the account's root user is not (AWS's lock-out protection), and can lift the Deny.
        self.assertIn("Deny", self.owner.get_bucket_policy(Bucket=self.bucket)["Policy"])
        self.owner.delete_bucket_policy(Bucket=self.bucket)
        self.assertEqual(self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt")["Body"].read(), b"hello")
        self.assertEqual(self.alice.get_object(Bucket=self.bucket, Key="public/readme.txt")["Body"].read(), b"hello")

    def test_deny_by_principal_and_conditions(self):
        # Deny one IAM user only: the root user of the same account is unaffected.
        self.policy({"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::%s:user/alice" % OWNER}, "Action": "s3:GetObject",
                     "Resource": self.arn("/*")})
        denied(self, lambda: self.alice.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt")
        # Plain HTTP is not secure transport: the usual "deny insecure transport" policy denies.
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": self.arn("/*"),
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        denied(self, lambda: self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        # aws:SourceIp: requests come from 127.0.0.1.
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": self.arn("/*"),
                     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}})
        denied(self, lambda: self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": self.arn("/*"),
                     "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}})
        self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt")

    def test_access_denied_document(self):
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": self.arn("/*")})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.owner.get_object(Bucket=self.bucket, Key="public/readme.txt")
        response = ctx.exception.response
        self.assertEqual(response["Error"], {"Code": "AccessDenied", "Message": "Access Denied"})
        self.assertTrue(response["ResponseMetadata"]["RequestId"])
        self.assertTrue(response["ResponseMetadata"]["HostId"])


class CrossAccount(PolicyTestCase):
    def test_other_account_needs_an_allow(self):
        denied(self, lambda: self.bob.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        denied(self, lambda: self.bob.list_objects_v2(Bucket=self.bucket))
        denied(self, lambda: self.bob.put_object(Bucket=self.bucket, Key="from-bob", Body=b"x"))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.bob.get_object(Bucket="no-such-bucket-anywhere", Key="k")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchBucket")

    def test_allow_grants_what_it_names(self):
        self.policy(
            {"Sid": "ReadPublic", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % OTHER},
             "Action": "s3:GetObject", "Resource": self.arn("/public/*")},
            {"Sid": "ListPublic", "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:ListBucket",
             "Resource": self.arn(), "Condition": {"StringLike": {"s3:prefix": "public/*"}}},
            {"Sid": "Upload", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/bob" % OTHER},
             "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], "Resource": self.arn("/incoming/*"),
             "Condition": {"StringEquals": {"aws:PrincipalAccount": OTHER}}},
        )
        self.assertEqual(self.bob.get_object(Bucket=self.bucket, Key="public/readme.txt")["Body"].read(), b"hello")
        denied(self, lambda: self.bob.get_object(Bucket=self.bucket, Key="protected/keep.txt"))
        listed = self.bob.list_objects_v2(Bucket=self.bucket, Prefix="public/")
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["public/readme.txt"])
        denied(self, lambda: self.bob.list_objects_v2(Bucket=self.bucket))
        denied(self, lambda: self.bob.list_objects_v2(Bucket=self.bucket, Prefix="protected/"))
        # Writes into incoming/, including a multipart upload, and nothing else.
        self.bob.put_object(Bucket=self.bucket, Key="incoming/one.txt", Body=b"from bob")
        denied(self, lambda: self.bob.put_object(Bucket=self.bucket, Key="elsewhere.txt", Body=b"x"))
        upload_id = self.bob.create_multipart_upload(Bucket=self.bucket, Key="incoming/big.bin")["UploadId"]
        part = os.urandom(1024)
        etag = self.bob.upload_part(Bucket=self.bucket, Key="incoming/big.bin", UploadId=upload_id, PartNumber=1, Body=part)["ETag"]
        self.assertEqual(len(self.bob.list_parts(Bucket=self.bucket, Key="incoming/big.bin", UploadId=upload_id)["Parts"]), 1)
        denied(self, lambda: self.bob.list_multipart_uploads(Bucket=self.bucket))  # not granted
        self.bob.complete_multipart_upload(Bucket=self.bucket, Key="incoming/big.bin", UploadId=upload_id,
                                           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        self.assertEqual(self.owner.get_object(Bucket=self.bucket, Key="incoming/big.bin")["Body"].read(), part)
        self.assertEqual(self.owner.get_object(Bucket=self.bucket, Key="incoming/one.txt")["Body"].read(), b"from bob")
        denied(self, lambda: self.bob.delete_object(Bucket=self.bucket, Key="incoming/one.txt"))
        # The bucket stays the owner's: it is not in bob's list, and its policy is not bob's.
        self.assertNotIn(self.bucket, [b["Name"] for b in self.bob.list_buckets()["Buckets"]])
        denied(self, lambda: self.bob.get_bucket_policy(Bucket=self.bucket))

    def test_allowed_policy_operations_are_the_owners_only(self):
        self.policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetBucketPolicy", "Resource": self.arn()})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.bob.get_bucket_policy(Bucket=self.bucket)
        self.assertEqual((ctx.exception.response["Error"]["Code"], ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]),
                         ("MethodNotAllowed", 405))

    def test_deny_wins_over_allow(self):
        self.policy(
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": self.arn("/*")},
            {"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": self.arn("/protected/*")},
        )
        self.bob.get_object(Bucket=self.bucket, Key="public/readme.txt")
        denied(self, lambda: self.bob.get_object(Bucket=self.bucket, Key="protected/keep.txt"))

    def test_time_windowed_access(self):
        # Access granted until a date (aws:CurrentTime) and from an epoch time (aws:EpochTime):
        # both compare against the request's time.
        now = int(time.time())
        past, future = now - 86400, now + 86400
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        self.policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": self.arn("/public/*"),
                     "Condition": {"DateLessThan": {"aws:CurrentTime": iso(future)},
                                   "NumericGreaterThanEquals": {"aws:EpochTime": str(past)}}})
        self.assertEqual(self.bob.get_object(Bucket=self.bucket, Key="public/readme.txt")["Body"].read(), b"hello")
        # The grant expired yesterday (a date alone is midnight UTC).
        self.policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": self.arn("/public/*"),
                     "Condition": {"DateLessThan": {"aws:CurrentTime": time.strftime("%Y-%m-%d", time.gmtime(past))}}})
        denied(self, lambda: self.bob.get_object(Bucket=self.bucket, Key="public/readme.txt"))
        # A Deny from a date onwards, in epoch seconds, stops even the owner.
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": self.arn("/*"),
                     "Condition": {"DateGreaterThan": {"aws:EpochTime": str(past)}}})
        denied(self, lambda: self.owner.put_object(Bucket=self.bucket, Key="late.txt", Body=b"x"))
        self.policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": self.arn("/*"),
                     "Condition": {"DateGreaterThan": {"aws:EpochTime": str(future)}}})
        self.owner.put_object(Bucket=self.bucket, Key="early.txt", Body=b"x")

    def test_cli_sees_the_same_decisions(self):
        self.policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": self.arn("/public/*")})
        out = self.server.cli("s3", "cp", "s3://%s/public/readme.txt" % self.bucket, "-", access_key="AKIABOB", secret_key="bob-secret")
        self.assertEqual(out.stdout, "hello")
        result = self.server.cli("s3api", "get-object", "--bucket", self.bucket, "--key", "protected/keep.txt", os.devnull,
                                 access_key="AKIABOB", secret_key="bob-secret", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("AccessDenied", result.stderr)


if __name__ == "__main__":
    unittest.main()
