"""S3 errors name what they are about in members of their own, after Code and Message, and
botocore hands them to the caller in response["Error"]: NoSuchBucket's BucketName, NoSuchKey's
Key, InvalidRange's RangeRequested and ActualObjectSize, PreconditionFailed's Condition,
InvalidPartNumber's PartNumberRequested and ActualPartCount, InvalidArgument's ArgumentName and
ArgumentValue, NoSuchUpload's UploadId, InvalidPart's UploadId, PartNumber and ETag,
EntityTooSmall's sizes, NoSuchBucketPolicy's BucketName. Anonymous and SigV2 requests get S3's
XML refusals (AccessDenied; InvalidRequest naming AWS4-HMAC-SHA256), not a JSON error."""
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.config
import botocore.exceptions
from botocore import UNSIGNED

from vigil_testing import S3BucketTestCase


class ErrorDetailTests(S3BucketTestCase):
    bucket = "detail-bucket"

    def error_of(self, call, **kwargs):
        """The parsed Error of a call that must fail, with its HTTP status."""
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            call(**kwargs)
        response = ctx.exception.response
        return response["Error"], response["ResponseMetadata"]["HTTPStatusCode"]

    def test_missing_bucket_key_and_policy_are_named(self):
        error, status = self.error_of(self.s3.get_object, Bucket="no-such-bucket", Key="k")
        self.assertEqual((error["Code"], status, error["BucketName"]), ("NoSuchBucket", 404, "no-such-bucket"))
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="dir/missing.txt")
        self.assertEqual((error["Code"], status, error["Key"]), ("NoSuchKey", 404, "dir/missing.txt"))
        error, status = self.error_of(self.s3.get_bucket_policy, Bucket=self.bucket)
        self.assertEqual((error["Code"], status, error["BucketName"]), ("NoSuchBucketPolicy", 404, self.bucket))

    def test_unsatisfiable_range_and_part_number_say_what_there_is(self):
        self.s3.put_object(Bucket=self.bucket, Key="ten", Body=b"0123456789")
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="ten", Range="bytes=100-200")
        self.assertEqual((error["Code"], status), ("InvalidRange", 416))
        self.assertEqual((error["RangeRequested"], error["ActualObjectSize"]), ("bytes=100-200", "10"))
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="ten", PartNumber=3)
        self.assertEqual((error["Code"], status), ("InvalidPartNumber", 416))
        self.assertEqual((error["PartNumberRequested"], error["ActualPartCount"]), ("3", "1"))
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="ten", PartNumber=10001)
        self.assertEqual((error["Code"], status), ("InvalidArgument", 400))
        self.assertEqual((error["ArgumentName"], error["ArgumentValue"]), ("partNumber", "10001"))

    def test_failed_preconditions_name_their_condition(self):
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"x")
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="k", IfMatch='"0000"')
        self.assertEqual((error["Code"], status, error["Condition"]), ("PreconditionFailed", 412, "If-Match"))
        error, status = self.error_of(self.s3.get_object, Bucket=self.bucket, Key="k",
                                      IfUnmodifiedSince="2001-01-01T00:00:00Z")
        self.assertEqual((error["Code"], status, error["Condition"]), ("PreconditionFailed", 412, "If-Unmodified-Since"))

    def test_failed_write_conditions_name_their_condition(self):
        if "IfNoneMatch" not in self.s3.meta.service_model.operation_model("PutObject").input_shape.members:
            self.skipTest("this botocore predates conditional writes")
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"x")
        error, status = self.error_of(self.s3.put_object, Bucket=self.bucket, Key="k", Body=b"y", IfNoneMatch="*")
        self.assertEqual((error["Code"], status, error["Condition"]), ("PreconditionFailed", 412, "If-None-Match"))
        error, status = self.error_of(self.s3.put_object, Bucket=self.bucket, Key="k", Body=b"y", IfMatch='"0000"')
        self.assertEqual((error["Code"], status, error["Condition"]), ("PreconditionFailed", 412, "If-Match"))
        error, status = self.error_of(self.s3.put_object, Bucket=self.bucket, Key="dir/absent", Body=b"y", IfMatch='"0000"')
        self.assertEqual((error["Code"], status, error["Key"]), ("NoSuchKey", 404, "dir/absent"))

    def test_multipart_errors_name_the_upload_and_part(self):
        error, status = self.error_of(self.s3.upload_part, Bucket=self.bucket, Key="mp", UploadId="no-such-upload",
                                      PartNumber=1, Body=b"x")
        self.assertEqual((error["Code"], status, error["UploadId"]), ("NoSuchUpload", 404, "no-such-upload"))

        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key="mp")["UploadId"]
        first = self.s3.upload_part(Bucket=self.bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * 1024)["ETag"]
        second = self.s3.upload_part(Bucket=self.bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"b")["ETag"]
        wrong = '"%s"' % ("0" * 32)
        error, status = self.error_of(self.s3.complete_multipart_upload, Bucket=self.bucket, Key="mp", UploadId=upload,
                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first},
                                                                 {"PartNumber": 2, "ETag": wrong}]})
        self.assertEqual((error["Code"], status), ("InvalidPart", 400))
        self.assertEqual((error["UploadId"], error["PartNumber"], error["ETag"]), (upload, "2", "0" * 32))
        # Every part but the last must be 5 MiB or more.
        error, status = self.error_of(self.s3.complete_multipart_upload, Bucket=self.bucket, Key="mp", UploadId=upload,
                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first},
                                                                 {"PartNumber": 2, "ETag": second}]})
        self.assertEqual((error["Code"], status), ("EntityTooSmall", 400))
        self.assertEqual((error["ProposedSize"], error["MinSizeAllowed"], error["PartNumber"], error["ETag"]),
                         ("1024", str(5 * 1024 * 1024), "1", first.strip('"')))

    def test_bucket_already_owned_elsewhere_than_north_virginia_names_it(self):
        eu = self.server.client("s3", region="eu-west-1", s3={"addressing_style": "path"})
        eu.create_bucket(Bucket="owned-eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        error, status = self.error_of(eu.create_bucket, Bucket="owned-eu-bucket",
                                      CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.assertEqual((error["Code"], status, error["BucketName"]), ("BucketAlreadyOwnedByYou", 409, "owned-eu-bucket"))


    def raw_error(self, url, headers=None):
        """Status and parsed <Error> of a plain HTTP GET that must fail."""
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}))
        self.assertEqual(ctx.exception.headers["Content-Type"], "application/xml")
        root = ET.fromstring(ctx.exception.read())
        return ctx.exception.code, {child.tag: child.text for child in root}

    def test_anonymous_and_sigv2_requests_are_refused_in_s3s_xml(self):
        self.s3.put_object(Bucket=self.bucket, Key="private.txt", Body=b"secret")
        status, error = self.raw_error(self.server.endpoint + "/%s/private.txt" % self.bucket)
        self.assertEqual((status, error["Code"]), (403, "AccessDenied"))
        anonymous = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                                 config=botocore.config.Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                                               retries={"max_attempts": 1}))
        error, status = self.error_of(anonymous.get_object, Bucket=self.bucket, Key="private.txt")
        self.assertEqual((error["Code"], status), ("AccessDenied", 403))
        # SigV2, as a presigned URL (what `aws s3 presign` of AWS CLI v1 makes) and as a header.
        sigv2 = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test",
                             config=botocore.config.Config(signature_version="s3", s3={"addressing_style": "path"}))
        url = sigv2.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": "private.txt"})
        self.assertIn("Signature=", url)
        status, error = self.raw_error(url)
        self.assertEqual((status, error["Code"]), (400, "InvalidRequest"))
        self.assertIn("Please use AWS4-HMAC-SHA256", error["Message"])
        status, error = self.raw_error(self.server.endpoint + "/%s/private.txt" % self.bucket,
                                       {"Authorization": "AWS test:bm90LWEtc2lnbmF0dXJl", "Date": "Mon, 07 Dec 2026 06:00:00 GMT"})
        self.assertEqual((status, error["Code"]), (400, "InvalidRequest"))

    def test_an_unknown_access_key_is_named(self):
        stranger = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                                aws_access_key_id="AKIANOBODY", aws_secret_access_key="x",
                                config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        error, status = self.error_of(stranger.get_object, Bucket=self.bucket, Key="k")
        self.assertEqual((error["Code"], status, error["AWSAccessKeyId"]), ("InvalidAccessKeyId", 403, "AKIANOBODY"))


if __name__ == "__main__":
    unittest.main()
