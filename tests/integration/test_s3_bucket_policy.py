"""S3 bucket policies: PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy with S3's
validation (MalformedPolicy) and errors, driven by boto3 and the AWS CLI."""
import json
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, cloudtrail_bucket_policy

PATH_STYLE = {"s3": {"addressing_style": "path"}}


def error(ctx):
    e = ctx.exception.response["Error"]
    return e["Code"], e.get("Message")


class BucketPolicy(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.s3.create_bucket(Bucket="policy-bucket")

    def test_put_get_delete(self):
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_bucket_policy(Bucket="policy-bucket")
        self.assertEqual(error(ctx), ("NoSuchBucketPolicy", "The bucket policy does not exist"))
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        text = json.dumps(cloudtrail_bucket_policy("policy-bucket"), indent=2)
        put = self.s3.put_bucket_policy(Bucket="policy-bucket", Policy=text)
        self.assertEqual(put["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertEqual(json.loads(self.s3.get_bucket_policy(Bucket="policy-bucket")["Policy"]),
                         cloudtrail_bucket_policy("policy-bucket"))
        deleted = self.s3.delete_bucket_policy(Bucket="policy-bucket")
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_bucket_policy(Bucket="policy-bucket")
        self.assertEqual(error(ctx)[0], "NoSuchBucketPolicy")
        # Deleting again succeeds, as in S3.
        self.s3.delete_bucket_policy(Bucket="policy-bucket")

    def test_policy_goes_with_the_bucket(self):
        self.s3.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(cloudtrail_bucket_policy("policy-bucket")))
        self.s3.delete_bucket(Bucket="policy-bucket")
        self.s3.create_bucket(Bucket="policy-bucket")
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_bucket_policy(Bucket="policy-bucket")
        self.assertEqual(error(ctx)[0], "NoSuchBucketPolicy")

    def test_malformed_policies(self):
        def statement(**overrides):
            s = {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                 "Resource": "arn:aws:s3:::policy-bucket/*"}
            s.update(overrides)
            return {k: v for k, v in s.items() if v is not None}

        cases = [
            ("not json", "Policies must be valid JSON and the first byte must be '{'"),
            ('{"Statement": [', "Policies must be valid JSON and the first byte must be '{'"),
            (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
            (json.dumps({"Statement": [statement(Effect="Maybe")]}), "Invalid effect: Maybe"),
            (json.dumps({"Statement": [statement(Principal=None)]}), "Missing required field Principal"),
            (json.dumps({"Statement": [statement(Principal={"AWS": "someone"})]}), "Invalid principal in policy"),
            (json.dumps({"Statement": [statement(Action=None)]}), "Missing required field Action"),
            (json.dumps({"Statement": [statement(Resource=None)]}), "Missing required field Resource"),
            (json.dumps({"Statement": [statement(Resource="arn:aws:s3:::other-bucket/*")]}), "Policy has invalid resource"),
            (json.dumps({"Statement": [statement(Resource="arn:aws:s3:::policy-bucket")]}),
             "Action does not apply to any resource(s) in statement"),
            (json.dumps({"Statement": [statement(Action="sqs:SendMessage")]}), "Policy has invalid action"),
        ]
        for text, message in cases:
            with self.assertRaises(ClientError, msg=text) as ctx:
                self.s3.put_bucket_policy(Bucket="policy-bucket", Policy=text)
            self.assertEqual(error(ctx), ("MalformedPolicy", message), text)
        # Conditions and AWS principals of the accepted forms are fine.
        ok = {"Version": "2012-10-17", "Statement": [
            statement(Principal={"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]}, Action=["s3:Get*", "s3:List*"],
                      Resource=["arn:aws:s3:::policy-bucket", "arn:aws:s3:::policy-bucket/*"],
                      Condition={"Bool": {"aws:SecureTransport": "true"}, "StringLike": {"aws:SourceArn": "arn:aws:cloudtrail:*"}}),
            statement(Effect="Deny", Principal="*", Action="s3:*", Resource="arn:aws:s3:::policy-bucket/*",
                      Condition={"Bool": {"aws:SecureTransport": False}}),
        ]}
        self.s3.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(ok))

    def test_only_the_owner(self):
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_bucket_policy(Bucket="no-such-bucket-here")
        self.assertEqual(error(ctx)[0], "NoSuchBucket")

    def test_cli(self):
        policy = json.dumps(cloudtrail_bucket_policy("policy-bucket"))
        self.server.cli("s3api", "put-bucket-policy", "--bucket", "policy-bucket", "--policy", policy)
        got = self.server.cli_json("s3api", "get-bucket-policy", "--bucket", "policy-bucket")
        self.assertEqual(json.loads(got["Policy"]), json.loads(policy))
        self.server.cli("s3api", "delete-bucket-policy", "--bucket", "policy-bucket")
        result = self.server.cli("s3api", "get-bucket-policy", "--bucket", "policy-bucket", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("NoSuchBucketPolicy", result.stderr)


if __name__ == "__main__":
    unittest.main()
