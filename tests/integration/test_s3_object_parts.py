"""S3 object parts and conditional writes: GetObject / HeadObject by partNumber (a multipart
object's part as a 206 with Content-Range and x-amz-mp-parts-count, a single-part object as its
own part 1), GetObjectAttributes (ETag, Checksum, ObjectParts with paging, StorageClass,
ObjectSize; its IAM action), and PutObject / CompleteMultipartUpload with If-None-Match: * and
If-Match: <etag>, including racing writers."""
import base64
import hashlib
import json
import os
import threading
import unittest
import zlib

import botocore.exceptions

from vigil_testing import PATH_STYLE, FLAVOUR, S3BucketTestCase, multipart_etag

MIB = 1024 * 1024


def error(ctx):
    e = ctx.exception.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def crc32(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def composite_crc32(parts):
    raw = b"".join(base64.b64decode(crc32(p)) for p in parts)
    return "%s-%d" % (crc32(raw), len(parts))


class PartsTestCase(S3BucketTestCase):
    bucket = "parts"

    def multipart(self, key, parts, numbers=None, checksum="CRC32"):
        """Uploads `parts` (bytes) as a multipart object, with a CRC32 COMPOSITE checksum."""
        numbers = numbers or list(range(1, len(parts) + 1))
        extra = {"ChecksumAlgorithm": checksum} if checksum else {}
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)["UploadId"]
        listed = []
        for n, data in zip(numbers, parts):
            r = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data, **extra)
            entry = {"PartNumber": n, "ETag": r["ETag"]}
            if checksum:
                entry["ChecksumCRC32"] = r["ChecksumCRC32"]
            listed.append(entry)
        return self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                 MultipartUpload={"Parts": listed})


class PartNumberReads(PartsTestCase):
    def setUp(self):
        super().setUp()
        self.parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
        self.multipart("mp", self.parts)

    def test_get_and_head_a_part(self):
        got = self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=2)
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(got["Body"].read(), self.parts[1])
        self.assertEqual(got["ContentRange"], "bytes %d-%d/%d" % (5 * MIB, 10 * MIB - 1, 10 * MIB + 1000))
        self.assertEqual(got["ContentLength"], 5 * MIB)
        self.assertEqual(got["PartsCount"], 3)
        self.assertEqual(got["ETag"], multipart_etag(self.parts))  # the object's, not the part's

        head = self.s3.head_object(Bucket=self.bucket, Key="mp", PartNumber=3)
        self.assertEqual(head["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual((head["ContentLength"], head["PartsCount"]), (1000, 3))
        # (the header itself: Debian's botocore 1.29 has no ContentRange member on HeadObject)
        self.assertEqual(head["ResponseMetadata"]["HTTPHeaders"]["content-range"],
                         "bytes %d-%d/%d" % (10 * MIB, 10 * MIB + 999, 10 * MIB + 1000))
        # Without partNumber nothing changes: the whole object, no parts count.
        whole = self.s3.head_object(Bucket=self.bucket, Key="mp")
        self.assertEqual(whole["ContentLength"], 10 * MIB + 1000)
        self.assertNotIn("PartsCount", whole)

    def test_part_checksum_of_a_composite_object(self):
        got = self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=3, ChecksumMode="ENABLED")
        self.assertEqual(got["ChecksumCRC32"], crc32(self.parts[2]))  # the part's own: checkable
        self.assertEqual(got["Body"].read(), self.parts[2])
        whole = self.s3.head_object(Bucket=self.bucket, Key="mp", ChecksumMode="ENABLED")
        self.assertEqual(whole["ChecksumCRC32"], composite_crc32(self.parts))

    def test_errors(self):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=4)
        self.assertEqual(error(ctx), ("InvalidPartNumber", 416))
        self.assertEqual(ctx.exception.response["Error"]["Message"], "The requested partnumber is not satisfiable")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="mp", PartNumber=4)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 416)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=1, Range="bytes=0-9")
        self.assertEqual(error(ctx), ("InvalidRequest", 400))
        for bad in (0, 10001):
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=bad)
            self.assertEqual(error(ctx), ("InvalidArgument", 400))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="absent", PartNumber=1)
        self.assertEqual(error(ctx), ("NoSuchKey", 404))

    def test_part_numbers_with_gaps(self):
        a, b = os.urandom(5 * MIB), b"tail"
        self.multipart("gaps", [a, b], numbers=[2, 5])
        got = self.s3.get_object(Bucket=self.bucket, Key="gaps", PartNumber=5)
        self.assertEqual((got["Body"].read(), got["PartsCount"]), (b, 2))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="gaps", PartNumber=1)
        self.assertEqual(error(ctx), ("InvalidPartNumber", 416))

    def test_single_part_object_is_its_own_part_one(self):
        self.s3.put_object(Bucket=self.bucket, Key="one", Body=b"hello")
        got = self.s3.get_object(Bucket=self.bucket, Key="one", PartNumber=1)
        self.assertEqual(got["Body"].read(), b"hello")
        self.assertEqual(got["ContentRange"], "bytes 0-4/5")
        self.assertNotIn("PartsCount", got)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="one", PartNumber=2)
        self.assertEqual(error(ctx), ("InvalidPartNumber", 416))

    def test_overwritten_object_loses_its_parts(self):
        self.s3.put_object(Bucket=self.bucket, Key="mp", Body=b"now single")
        got = self.s3.get_object(Bucket=self.bucket, Key="mp", PartNumber=1)
        self.assertEqual(got["Body"].read(), b"now single")
        self.assertNotIn("PartsCount", got)


class ObjectAttributes(PartsTestCase):
    ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

    def test_multipart_object(self):
        parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(777)]
        done = self.multipart("mp", parts)
        attrs = self.s3.get_object_attributes(Bucket=self.bucket, Key="mp", ObjectAttributes=self.ALL)
        self.assertEqual(attrs["ETag"], done["ETag"].strip('"'))  # unquoted here
        self.assertEqual(attrs["ObjectSize"], 10 * MIB + 777)
        self.assertEqual(attrs["StorageClass"], "STANDARD")
        self.assertIn("LastModified", attrs)
        self.assertEqual(attrs["Checksum"]["ChecksumCRC32"], composite_crc32(parts))
        if FLAVOUR == "image":  # Debian's botocore 1.29 predates ChecksumType
            self.assertEqual(attrs["Checksum"]["ChecksumType"], "COMPOSITE")
        op = attrs["ObjectParts"]
        self.assertEqual(op["TotalPartsCount"], 3)
        self.assertFalse(op["IsTruncated"])
        self.assertEqual([(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in op["Parts"]],
                         [(1, 5 * MIB, crc32(parts[0])), (2, 5 * MIB, crc32(parts[1])), (3, 777, crc32(parts[2]))])

        page = self.s3.get_object_attributes(Bucket=self.bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
        self.assertTrue(page["ObjectParts"]["IsTruncated"])
        self.assertEqual(page["ObjectParts"]["NextPartNumberMarker"], 2)
        self.assertEqual([p["PartNumber"] for p in page["ObjectParts"]["Parts"]], [1, 2])
        self.assertNotIn("ETag", page)  # only what was asked
        rest = self.s3.get_object_attributes(Bucket=self.bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2,
                                             PartNumberMarker=2)
        self.assertFalse(rest["ObjectParts"]["IsTruncated"])
        self.assertEqual([p["PartNumber"] for p in rest["ObjectParts"]["Parts"]], [3])

    def test_multipart_object_without_checksums_lists_no_parts(self):
        self.multipart("plain", [os.urandom(5 * MIB), b"x"], checksum=None)
        attrs = self.s3.get_object_attributes(Bucket=self.bucket, Key="plain", ObjectAttributes=["ObjectParts"])
        self.assertEqual(attrs["ObjectParts"]["TotalPartsCount"], 2)
        self.assertNotIn("Parts", attrs["ObjectParts"])

    def test_single_part_object(self):
        body = b"attributes"
        sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
        self.s3.put_object(Bucket=self.bucket, Key="one", Body=body, ChecksumAlgorithm="SHA256")
        attrs = self.s3.get_object_attributes(Bucket=self.bucket, Key="one", ObjectAttributes=self.ALL)
        self.assertEqual(attrs["ETag"], hashlib.md5(body).hexdigest())
        self.assertEqual(attrs["ObjectSize"], len(body))
        self.assertEqual(attrs["Checksum"]["ChecksumSHA256"], sha)
        self.assertNotIn("ObjectParts", attrs)

    def test_errors_and_policy(self):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object_attributes(Bucket=self.bucket, Key="absent", ObjectAttributes=["ETag"])
        self.assertEqual(error(ctx), ("NoSuchKey", 404))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object_attributes(Bucket="no-such-bucket-here", Key="k", ObjectAttributes=["ETag"])
        self.assertEqual(error(ctx), ("NoSuchBucket", 404))
        # No attribute named: the request is still GetObjectAttributes (?attributes decides),
        # refused with S3's InvalidRequest, never answered as a GetObject.
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object_attributes(Bucket=self.bucket, Key="k", ObjectAttributes=[])
        self.assertEqual(error(ctx), ("InvalidRequest", 400))
        # The operation is its own IAM action (with s3:GetObject): denying it leaves GetObject.
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v")
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObjectAttributes", "Resource": "arn:aws:s3:::parts/*"}]}))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object_attributes(Bucket=self.bucket, Key="k", ObjectAttributes=["ETag"])
        self.assertEqual(error(ctx), ("AccessDenied", 403))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="k")["Body"].read(), b"v")

    def test_cli(self):
        self.s3.put_object(Bucket=self.bucket, Key="cli/key", Body=b"12345")
        out = self.server.cli_json("s3api", "get-object-attributes", "--bucket", self.bucket, "--key", "cli/key",
                                   "--object-attributes", "ObjectSize", "ETag", "StorageClass")
        self.assertEqual(out["ObjectSize"], 5)
        self.assertEqual(out["ETag"], hashlib.md5(b"12345").hexdigest())
        self.assertEqual(out["StorageClass"], "STANDARD")


@unittest.skipIf(FLAVOUR == "debian", "Debian's botocore 1.29 predates IfNoneMatch/IfMatch on PutObject and CompleteMultipartUpload")
class ConditionalWrites(PartsTestCase):
    def test_put_if_none_match(self):
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"first", IfNoneMatch="*")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"second", IfNoneMatch="*")
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="k")["Body"].read(), b"first")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k2", Body=b"x", IfNoneMatch='"abc"')
        self.assertEqual(error(ctx), ("NotImplemented", 501))

    def test_put_if_match(self):
        etag = self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v1")["ETag"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v2", IfMatch='"%s"' % hashlib.md5(b"other").hexdigest())
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        new = self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v2", IfMatch=etag)["ETag"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v3", IfMatch=etag)  # lost the race
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v3", IfMatch=new)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="absent", Body=b"x", IfMatch=etag)
        self.assertEqual(error(ctx), ("NoSuchKey", 404))

    def test_copy_object_destination_conditions(self):
        src_etag = self.s3.put_object(Bucket=self.bucket, Key="src", Body=b"source")["ETag"]
        self.s3.put_object(Bucket=self.bucket, Key="dst", Body=b"old")
        source = {"Bucket": self.bucket, "Key": "src"}
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.copy_object(Bucket=self.bucket, Key="dst", CopySource=source, IfNoneMatch="*")
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.copy_object(Bucket=self.bucket, Key="dst", CopySource=source, IfMatch=src_etag)  # the source's ETag
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="dst")["Body"].read(), b"old")
        self.s3.copy_object(Bucket=self.bucket, Key="fresh", CopySource=source, IfNoneMatch="*")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="fresh")["Body"].read(), b"source")

    def test_racing_create_only_writers(self):
        results = []

        def write(i):
            client = self.server.client("s3", **PATH_STYLE)
            try:
                client.put_object(Bucket=self.bucket, Key="lock", Body=b"owner %d" % i, IfNoneMatch="*")
                results.append("won")
            except botocore.exceptions.ClientError as e:
                results.append(e.response["Error"]["Code"])

        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), ["PreconditionFailed"] * 5 + ["won"])

    def test_complete_multipart_upload(self):
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"exists")
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key="k")["UploadId"]
        etag = self.s3.upload_part(Bucket=self.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
        parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key="k", UploadId=upload_id, MultipartUpload=parts, IfNoneMatch="*")
        self.assertEqual(error(ctx), ("PreconditionFailed", 412))
        # The upload survives a failed precondition and completes once it holds.
        current = self.s3.head_object(Bucket=self.bucket, Key="k")["ETag"]
        done = self.s3.complete_multipart_upload(Bucket=self.bucket, Key="k", UploadId=upload_id, MultipartUpload=parts, IfMatch=current)
        self.assertEqual(done["ETag"], multipart_etag([b"part"]))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="k")["Body"].read(), b"part")
        # Create-only on a new key.
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key="new")["UploadId"]
        etag = self.s3.upload_part(Bucket=self.bucket, Key="new", UploadId=upload_id, PartNumber=1, Body=b"n")["ETag"]
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key="new", UploadId=upload_id, IfNoneMatch="*",
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})

    def test_cli_create_only(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vigil-cond-%d" % os.getpid())
        with open(path, "wb") as f:
            f.write(b"cli")
        self.addCleanup(os.remove, path)
        self.server.cli("s3api", "put-object", "--bucket", self.bucket, "--key", "c", "--body", path, "--if-none-match", "*")
        second = self.server.cli("s3api", "put-object", "--bucket", self.bucket, "--key", "c", "--body", path,
                                 "--if-none-match", "*", check=False)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("PreconditionFailed", second.stderr)


if __name__ == "__main__":
    unittest.main()
