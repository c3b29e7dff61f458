"""Anonymous (unsigned) S3 requests: refused (AccessDenied, S3's XML) unless the bucket policy
grants Principal "*" (or {"AWS": "*"}) the action, as S3 evaluates public access; then
GetObject, ListObjects and PutObject work without credentials, from boto3 (UNSIGNED), the AWS
CLI (--no-sign-request) and a plain HTTP client. An explicit Deny still wins, bucket-less
operations stay refused, and the bucket owner's CloudTrail history records the call as AWS
does (userIdentity type AWSAccount, accountId anonymous)."""
import http.client
import json
import time
import unittest
import urllib.parse

import boto3
import botocore
import botocore.config
from botocore.exceptions import ClientError

from vigil_testing import PATH_STYLE, ServerTestCase


def public_policy(bucket, actions, principal="*", extra=()):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": actions,
         "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]}] + list(extra)})


class Anonymous(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.s3.create_bucket(Bucket="public-site")
        self.s3.put_object(Bucket="public-site", Key="index.html", Body=b"<h1>hi</h1>", ContentType="text/html")
        self.anonymous = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                                      config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1},
                                                                    s3={"addressing_style": "path"}))

    def raw(self, method, path, body=None, headers=None):
        url = urllib.parse.urlparse(self.server.endpoint)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def assert_denied(self, fn, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            fn(**kwargs)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "AccessDenied")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_refused_without_a_public_grant(self):
        self.assert_denied(self.anonymous.get_object, Bucket="public-site", Key="index.html")
        self.assert_denied(self.anonymous.list_objects_v2, Bucket="public-site")
        self.assert_denied(self.anonymous.list_buckets)
        self.assert_denied(self.anonymous.create_bucket, Bucket="anonymous-bucket")
        # A grant to the owner's account is not a grant to everyone.
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", "s3:GetObject", {"AWS": "000000000000"}))
        self.assert_denied(self.anonymous.get_object, Bucket="public-site", Key="index.html")
        status, body = self.raw("GET", "/public-site/index.html")
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", body)

    def test_public_read_and_write(self):
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", ["s3:GetObject", "s3:ListBucket"]))
        got = self.anonymous.get_object(Bucket="public-site", Key="index.html")
        self.assertEqual((got["Body"].read(), got["ContentType"]), (b"<h1>hi</h1>", "text/html"))
        self.assertEqual([o["Key"] for o in self.anonymous.list_objects_v2(Bucket="public-site")["Contents"]], ["index.html"])
        status, body = self.raw("GET", "/public-site/index.html")
        self.assertEqual((status, body), (200, b"<h1>hi</h1>"))
        # Not granted: writes.
        self.assert_denied(self.anonymous.put_object, Bucket="public-site", Key="upload.txt", Body=b"x")
        status, _ = self.raw("PUT", "/public-site/form.txt", body=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 403)
        # {"AWS": "*"} grants the same; an explicit Deny wins over it.
        deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-site/secret/*"}
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", ["s3:GetObject", "s3:PutObject"], {"AWS": "*"}, [deny]))
        self.anonymous.put_object(Bucket="public-site", Key="secret/upload.txt", Body=b"dropped")
        self.assert_denied(self.anonymous.get_object, Bucket="public-site", Key="secret/upload.txt")
        self.assert_denied(self.s3.get_object, Bucket="public-site", Key="secret/upload.txt")  # the Deny names everyone, the owner too
        self.assertIn("secret/upload.txt", [o["Key"] for o in self.s3.list_objects_v2(Bucket="public-site")["Contents"]])
        status, _ = self.raw("PUT", "/public-site/form.txt", body=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.assertEqual(self.s3.get_object(Bucket="public-site", Key="form.txt")["Body"].read(), b"a=b")
        # The owner's history has the anonymous calls, as AWS records them.
        ct = self.server.client("cloudtrail")
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", ["s3:GetBucketLocation", "s3:GetObject"]))
        status, _ = self.raw("GET", "/public-site?location")
        deadline = time.time() + 5
        while True:
            events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetBucketLocation"}])["Events"]
            if events or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertTrue(events, "no GetBucketLocation record (status %d)" % status)
        identity = json.loads(events[0]["CloudTrailEvent"])["userIdentity"]
        self.assertEqual(identity, {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"})

    def test_sse_kms_objects_need_a_signed_caller(self):
        self.s3.put_object(Bucket="public-site", Key="sealed.txt", Body=b"x", ServerSideEncryption="aws:kms")
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", ["s3:GetObject", "s3:PutObject"]))
        self.assertEqual(self.anonymous.get_object(Bucket="public-site", Key="index.html")["Body"].read(), b"<h1>hi</h1>")
        for call, kwargs in ((self.anonymous.get_object, {"Key": "sealed.txt"}),
                             (self.anonymous.put_object, {"Key": "new.txt", "Body": b"x", "ServerSideEncryption": "aws:kms"})):
            with self.assertRaises(ClientError) as ctx:
                call(Bucket="public-site", **kwargs)
            self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidArgument")
            self.assertIn("require AWS Signature Version 4", ctx.exception.response["Error"]["Message"])

    def test_cli_no_sign_request(self):
        self.s3.put_bucket_policy(Bucket="public-site", Policy=public_policy("public-site", ["s3:GetObject", "s3:ListBucket"]))
        listed = self.server.cli("s3", "ls", "s3://public-site/", "--no-sign-request")
        self.assertIn("index.html", listed.stdout)
        got = self.server.cli("s3", "cp", "s3://public-site/index.html", "-", "--no-sign-request")
        self.assertEqual(got.stdout, "<h1>hi</h1>")
        refused = self.server.cli("s3", "cp", "-", "s3://public-site/new.txt", "--no-sign-request", check=False, input="x")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("AccessDenied", refused.stderr)


if __name__ == "__main__":
    unittest.main()
