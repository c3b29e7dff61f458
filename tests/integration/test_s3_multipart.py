"""S3 multipart upload: the low-level API (create, parts, copy parts, list, complete, abort)
with S3's errors and ETag, and the managed transfers that use it: boto3's upload_file with a
small multipart threshold and `aws s3 cp` of a file over the CLI's 8 MB threshold."""
import hashlib
import os
import shutil
import tempfile
import unittest

import boto3.s3.transfer
import botocore.exceptions

from vigil_testing import S3BucketTestCase, multipart_etag

MIB = 1024 * 1024


def error(ctx):
    e = ctx.exception.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


class MultipartTestCase(S3BucketTestCase):
    bucket = "uploads"

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, key, **kwargs):
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **kwargs)["UploadId"]

    def part(self, key, upload_id, number, data):
        return self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)["ETag"]


class LowLevelApi(MultipartTestCase):
    def test_create_upload_list_complete(self):
        upload_id = self.start("big/file.bin", ContentType="application/x-test", Metadata={"colour": "blue"},
                               CacheControl="max-age=60")
        one, two = os.urandom(5 * MIB), os.urandom(1234)
        etag2 = self.part("big/file.bin", upload_id, 2, two)  # parts may come in any order
        etag1 = self.part("big/file.bin", upload_id, 1, one)
        self.assertEqual(etag1, '"%s"' % hashlib.md5(one).hexdigest())

        parts = self.s3.list_parts(Bucket=self.bucket, Key="big/file.bin", UploadId=upload_id)
        self.assertEqual([(p["PartNumber"], p["ETag"], p["Size"]) for p in parts["Parts"]],
                         [(1, etag1, len(one)), (2, etag2, len(two))])
        self.assertFalse(parts["IsTruncated"])
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket)["Uploads"]
        self.assertEqual([(u["Key"], u["UploadId"]) for u in uploads], [("big/file.bin", upload_id)])

        done = self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key="big/file.bin", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]})
        self.assertEqual(done["ETag"], multipart_etag([one, two]))
        self.assertEqual((done["Bucket"], done["Key"]), (self.bucket, "big/file.bin"))
        head = self.s3.head_object(Bucket=self.bucket, Key="big/file.bin")
        self.assertEqual(head["ETag"], multipart_etag([one, two]))
        self.assertEqual(head["ContentLength"], len(one) + len(two))
        self.assertEqual(head["ContentType"], "application/x-test")
        self.assertEqual(head["Metadata"], {"colour": "blue"})
        self.assertEqual(head["CacheControl"], "max-age=60")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="big/file.bin")["Body"].read(), one + two)
        self.assertNotIn("Uploads", self.s3.list_multipart_uploads(Bucket=self.bucket))
        # The upload is gone once completed.
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.list_parts(Bucket=self.bucket, Key="big/file.bin", UploadId=upload_id)
        self.assertEqual(error(ctx), ("NoSuchUpload", 404))

    def test_completion_errors(self):
        upload_id = self.start("k")
        small = self.part("k", upload_id, 1, b"small")
        last = self.part("k", upload_id, 2, b"last")

        def complete(parts):
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                self.s3.complete_multipart_upload(Bucket=self.bucket, Key="k", UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
            return error(ctx)

        self.assertEqual(complete([{"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}]), ("InvalidPartOrder", 400))
        self.assertEqual(complete([{"PartNumber": 1, "ETag": small}, {"PartNumber": 3, "ETag": last}]), ("InvalidPart", 400))
        self.assertEqual(complete([{"PartNumber": 1, "ETag": last}]), ("InvalidPart", 400))
        self.assertEqual(complete([{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}]), ("EntityTooSmall", 400))
        for number in (0, 10001):
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                self.part("k", upload_id, number, b"x")
            self.assertEqual(error(ctx), ("InvalidArgument", 400))
        # The upload survived every failed attempt.
        self.assertEqual(len(self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId=upload_id)["Parts"]), 2)

    def test_no_such_upload(self):
        upload_id = self.start("k")
        calls = [
            lambda: self.part("k", "not-an-upload", 1, b"x"),
            lambda: self.part("other-key", upload_id, 1, b"x"),  # an upload belongs to its key
            lambda: self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId="nope"),
            lambda: self.s3.abort_multipart_upload(Bucket=self.bucket, Key="k", UploadId="nope"),
            lambda: self.s3.complete_multipart_upload(Bucket=self.bucket, Key="k", UploadId="nope",
                                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}),
        ]
        for call in calls:
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                call()
            self.assertEqual(error(ctx), ("NoSuchUpload", 404))

    def test_abort(self):
        upload_id = self.start("k")
        self.part("k", upload_id, 1, b"data")
        response = self.s3.abort_multipart_upload(Bucket=self.bucket, Key="k", UploadId=upload_id)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertNotIn("Uploads", self.s3.list_multipart_uploads(Bucket=self.bucket))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.part("k", upload_id, 2, b"late")
        self.assertEqual(error(ctx), ("NoSuchUpload", 404))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="k")
        self.assertEqual(error(ctx)[1], 404)

    def test_list_uploads_pages_and_prefixes(self):
        ids = {}
        for key in ["a", "a", "b", "logs/1", "logs/2"]:
            ids.setdefault(key, []).append(self.start(key))
        page = self.s3.list_multipart_uploads(Bucket=self.bucket, MaxUploads=2)
        self.assertTrue(page["IsTruncated"])
        self.assertEqual([u["Key"] for u in page["Uploads"]], ["a", "a"])
        self.assertEqual([u["UploadId"] for u in page["Uploads"]], ids["a"])  # initiation order
        self.assertEqual((page["NextKeyMarker"], page["NextUploadIdMarker"]), ("a", ids["a"][1]))
        rest = self.s3.list_multipart_uploads(Bucket=self.bucket, KeyMarker=page["NextKeyMarker"],
                                              UploadIdMarker=page["NextUploadIdMarker"])
        self.assertEqual([u["Key"] for u in rest["Uploads"]], ["b", "logs/1", "logs/2"])
        self.assertFalse(rest["IsTruncated"])
        paginated = [u["Key"] for p in self.s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, PaginationConfig={"PageSize": 1}) for u in p.get("Uploads", [])]
        self.assertEqual(paginated, ["a", "a", "b", "logs/1", "logs/2"])
        grouped = self.s3.list_multipart_uploads(Bucket=self.bucket, Delimiter="/")
        self.assertEqual([u["Key"] for u in grouped["Uploads"]], ["a", "a", "b"])
        self.assertEqual([p["Prefix"] for p in grouped["CommonPrefixes"]], ["logs/"])
        prefixed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix="logs/")
        self.assertEqual([u["Key"] for u in prefixed["Uploads"]], ["logs/1", "logs/2"])

    def test_list_parts_pages(self):
        upload_id = self.start("k")
        for n in (1, 2, 3):
            self.part("k", upload_id, n, b"part %d" % n)
        page = self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId=upload_id, MaxParts=2)
        self.assertEqual([p["PartNumber"] for p in page["Parts"]], [1, 2])
        self.assertTrue(page["IsTruncated"])
        self.assertEqual(page["NextPartNumberMarker"], 2)
        rest = self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId=upload_id, PartNumberMarker=2)
        self.assertEqual([p["PartNumber"] for p in rest["Parts"]], [3])
        self.assertFalse(rest["IsTruncated"])

    def test_upload_part_copy(self):
        source = os.urandom(6 * MIB)
        self.s3.put_object(Bucket=self.bucket, Key="source", Body=source)
        upload_id = self.start("copied")
        first = self.s3.upload_part_copy(Bucket=self.bucket, Key="copied", UploadId=upload_id, PartNumber=1,
                                         CopySource={"Bucket": self.bucket, "Key": "source"},
                                         CopySourceRange="bytes=0-%d" % (5 * MIB - 1))["CopyPartResult"]["ETag"]
        second = self.s3.upload_part_copy(Bucket=self.bucket, Key="copied", UploadId=upload_id, PartNumber=2,
                                          CopySource={"Bucket": self.bucket, "Key": "source"},
                                          CopySourceRange="bytes=%d-%d" % (5 * MIB, len(source) - 1))["CopyPartResult"]["ETag"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.upload_part_copy(Bucket=self.bucket, Key="copied", UploadId=upload_id, PartNumber=3,
                                     CopySource={"Bucket": self.bucket, "Key": "source"},
                                     CopySourceRange="bytes=0-%d" % len(source))
        self.assertEqual(error(ctx), ("InvalidArgument", 400))
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key="copied", UploadId=upload_id,
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first},
                                                                     {"PartNumber": 2, "ETag": second}]})
        got = self.s3.get_object(Bucket=self.bucket, Key="copied")
        self.assertEqual(got["Body"].read(), source)
        self.assertEqual(got["ETag"], multipart_etag([source[:5 * MIB], source[5 * MIB:]]))

    def test_bucket_deletion_drops_uploads(self):
        upload_id = self.start("k")
        self.part("k", upload_id, 1, b"data")
        self.s3.delete_bucket(Bucket=self.bucket)
        self.s3.create_bucket(Bucket=self.bucket)
        self.assertNotIn("Uploads", self.s3.list_multipart_uploads(Bucket=self.bucket))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId=upload_id)
        self.assertEqual(error(ctx), ("NoSuchUpload", 404))


class ManagedTransfers(MultipartTestCase):
    def write(self, name, size):
        path = os.path.join(self.tmp, name)
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def test_boto3_upload_file_multipart(self):
        path, data = self.write("up.bin", 12 * MIB + 17)
        config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
        self.s3.upload_file(path, self.bucket, "managed.bin", Config=config)
        head = self.s3.head_object(Bucket=self.bucket, Key="managed.bin")
        self.assertEqual(head["ContentLength"], len(data))
        self.assertEqual(head["ETag"], multipart_etag([data[:5 * MIB], data[5 * MIB:10 * MIB], data[10 * MIB:]]))
        down = os.path.join(self.tmp, "down.bin")
        self.s3.download_file(self.bucket, "managed.bin", down, Config=config)
        with open(down, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_cli_cp_over_the_multipart_threshold(self):
        path, data = self.write("cli.bin", 20 * MIB + 5)  # the CLI's threshold and part size are 8 MB
        self.server.cli("s3", "cp", path, "s3://%s/cli/big.bin" % self.bucket)
        head = self.server.cli_json("s3api", "head-object", "--bucket", self.bucket, "--key", "cli/big.bin")
        self.assertEqual(head["ContentLength"], len(data))
        self.assertTrue(head["ETag"].endswith('-3"'), head["ETag"])
        self.assertEqual(head["ETag"], multipart_etag([data[:8 * MIB], data[8 * MIB:16 * MIB], data[16 * MIB:]]))
        down = os.path.join(self.tmp, "cli-down.bin")
        self.server.cli("s3", "cp", "s3://%s/cli/big.bin" % self.bucket, down)
        with open(down, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.server.cli_json("s3api", "list-multipart-uploads", "--bucket", self.bucket).get("Uploads"), None)


if __name__ == "__main__":
    unittest.main()
