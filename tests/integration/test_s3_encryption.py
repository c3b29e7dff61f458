"""SSE-S3 encryption at rest: every object is stored encrypted (AES-256-CTR under a per-file
data key sealed by the server's master key, <data-dir>/s3/.master-key) and every answer about
it says ServerSideEncryption AES256, as S3 does for all new objects. Bodies round-trip whole and
in ranges at odd offsets; no file in the data directory holds a distinctive plaintext marker
after PutObject (in memory and spooled), multipart upload (boto3 and `aws s3 cp`), CopyObject
and UploadPartCopy; x-amz-server-side-encryption AES256 and aws:kms (SSE-KMS with the account's
AWS managed key, aws/s3, by any of its names; a key KMS does not have is KMS.NotFoundException, as S3
says of a missing key) are accepted, aws:kms:dsse answers NotImplemented, other values
InvalidArgument; the encryption context and bucket-key flag round-trip; bucket default
encryption (Put/Get/DeleteBucketEncryption) round-trips and applies to writes without
headers (boto3 and `aws s3 cp`), with S3's default AES256 rule when none was put."""
import base64
import datetime
import http.client
import os
import stat
import tempfile
import time
import unittest
import zlib

import botocore.exceptions

from test_s3_streaming import signed_headers
from vigil_testing import ServerTestCase

PATH_STYLE = {"s3": {"addressing_style": "path"}}
MIB = 1024 * 1024
MARKER = b"VIGIL-SSE-PLAINTEXT-MARKER-4c1e9b"


def body_with_markers(size):
    unit = MARKER + b"." * (4096 - len(MARKER))
    return (unit * (size // len(unit) + 1))[:size]


class S3EncryptionTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = cls.server.client("s3", **PATH_STYLE)

    def setUp(self):
        super().setUp()
        self.bucket = "sse-bucket"
        self.s3.create_bucket(Bucket=self.bucket)

    def assert_no_plaintext_on_disk(self):
        """Every file under the data directory, read in 1 MiB blocks that overlap by the
        marker's length, is free of the marker."""
        found = []
        for root, _, files in os.walk(self.server.data_dir):
            for name in files:
                path = os.path.join(root, name)
                try:
                    f = open(path, "rb")
                except OSError:
                    continue  # removed meanwhile (a temp file)
                with f:
                    tail = b""
                    while True:
                        block = f.read(MIB)
                        if not block:
                            break
                        if MARKER in tail + block:
                            found.append(path)
                            break
                        tail = block[-len(MARKER):]
        self.assertEqual(found, [], "plaintext found on disk")

    def assert_error(self, code, status, fn, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return cm.exception.response["Error"]

    def test_master_key_file(self):
        path = os.path.join(self.server.data_dir, "s3", ".master-key")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_size, 32)

    def test_put_get_head_say_aes256_and_ranges_decrypt(self):
        data = body_with_markers(3 * MIB + 12345)
        put = self.s3.put_object(Bucket=self.bucket, Key="k", Body=data)
        self.assertEqual(put["ServerSideEncryption"], "AES256")
        explicit = self.s3.put_object(Bucket=self.bucket, Key="k2", Body=data, ServerSideEncryption="AES256")
        self.assertEqual(explicit["ServerSideEncryption"], "AES256")
        self.assertEqual(explicit["ETag"], put["ETag"])  # MD5 of the plaintext
        head = self.s3.head_object(Bucket=self.bucket, Key="k")
        self.assertEqual(head["ServerSideEncryption"], "AES256")
        got = self.s3.get_object(Bucket=self.bucket, Key="k")
        self.assertEqual(got["ServerSideEncryption"], "AES256")
        self.assertEqual(got["Body"].read(), data)
        for first, last in [(0, 0), (1, 16), (15, 17), (4095, 4096 + 33), (524287, 524288 + 7), (1048575, 2 * MIB + 9), (len(data) - 5, len(data) - 1)]:
            r = self.s3.get_object(Bucket=self.bucket, Key="k", Range="bytes=%d-%d" % (first, last))
            self.assertEqual(r["Body"].read(), data[first:last + 1], (first, last))
        r = self.s3.get_object(Bucket=self.bucket, Key="k", Range="bytes=-1000")
        self.assertEqual(r["Body"].read(), data[-1000:])
        self.assert_no_plaintext_on_disk()

    def test_spooled_put_is_encrypted_while_spooling(self):
        data = body_with_markers(12 * MIB + 7)  # above the 8 MiB spool threshold
        put = self.s3.put_object(Bucket=self.bucket, Key="big", Body=data)
        self.assertEqual(put["ServerSideEncryption"], "AES256")
        self.assert_no_plaintext_on_disk()
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="big")["Body"].read(), data)
        r = self.s3.get_object(Bucket=self.bucket, Key="big", Range="bytes=9437183-9437283")
        self.assertEqual(r["Body"].read(), data[9437183:9437284])

    def test_spool_file_is_ciphertext_while_the_upload_is_in_flight(self):
        # aws-chunked (unsigned, with a trailer) over Transfer-Encoding: chunked: spooled, then
        # decoded into a new file. Halfway through the body, the spool file in s3/.incoming is
        # checked: it holds ciphertext only (encrypted block by block as it is written).
        size = 24 * MIB
        data = body_with_markers(size)
        url = "%s/%s/%s" % (self.server.endpoint, self.bucket, "inflight")
        headers = signed_headers("PUT", url, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(size),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "X-Amz-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        })
        spool = os.path.join(self.server.data_dir, "s3", ".incoming")
        seen = {}

        def body():
            for at in range(0, size, MIB):
                block = data[at:at + MIB]
                yield b"%x\r\n" % len(block) + block + b"\r\n"
                if at == 12 * MIB:
                    deadline = time.time() + 30
                    while time.time() < deadline:  # until the spool file holds at least 8 MiB
                        files = [os.path.join(spool, f) for f in os.listdir(spool)]
                        if files and os.path.getsize(files[0]) >= 8 * MIB:
                            seen["size"] = os.path.getsize(files[0])
                            break
                        time.sleep(0.05)
                    self.assert_no_plaintext_on_disk()
            # The body's real CRC32: the server checks the trailer.
            yield b"0\r\nx-amz-checksum-crc32:" + base64.b64encode(zlib.crc32(data).to_bytes(4, "big")) + b"\r\n\r\n"
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            conn.request("PUT", "/%s/inflight" % self.bucket, body=body(), headers=headers, encode_chunked=True)
            response = conn.getresponse()
            self.assertEqual(response.status, 200, response.read())
            self.assertEqual(response.getheader("x-amz-server-side-encryption"), "AES256")
        finally:
            conn.close()
        self.assertGreaterEqual(seen.get("size", 0), 8 * MIB, "the spool file was never seen mid-upload")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="inflight")["Body"].read(), data)
        self.assert_no_plaintext_on_disk()

    def test_multipart_and_copies(self):
        part1, part2 = body_with_markers(5 * MIB), body_with_markers(MIB + 3)
        mpu = self.s3.create_multipart_upload(Bucket=self.bucket, Key="mp", ServerSideEncryption="AES256")
        self.assertEqual(mpu["ServerSideEncryption"], "AES256")
        p1 = self.s3.upload_part(Bucket=self.bucket, Key="mp", UploadId=mpu["UploadId"], PartNumber=1, Body=part1)
        self.assertEqual(p1["ServerSideEncryption"], "AES256")
        self.s3.put_object(Bucket=self.bucket, Key="src", Body=part2)
        p2 = self.s3.upload_part_copy(Bucket=self.bucket, Key="mp", UploadId=mpu["UploadId"], PartNumber=2,
                                      CopySource={"Bucket": self.bucket, "Key": "src"}, CopySourceRange="bytes=1-%d" % (len(part2) - 1))
        self.assertEqual(p2["ServerSideEncryption"], "AES256")
        self.assert_no_plaintext_on_disk()  # parts are encrypted too
        done = self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key="mp", UploadId=mpu["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
        self.assertEqual(done["ServerSideEncryption"], "AES256")
        expected = part1 + part2[1:]
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="mp")["Body"].read(), expected)
        r = self.s3.get_object(Bucket=self.bucket, Key="mp", Range="bytes=%d-%d" % (5 * MIB - 3, 5 * MIB + 3))
        self.assertEqual(r["Body"].read(), expected[5 * MIB - 3:5 * MIB + 4])
        copy = self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource={"Bucket": self.bucket, "Key": "mp"})
        self.assertEqual(copy["ServerSideEncryption"], "AES256")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="copy")["Body"].read(), expected)
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key="copy")["ServerSideEncryption"], "AES256")
        # A copy onto itself is legal when it names an encryption (re-encryption in place).
        again = self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource={"Bucket": self.bucket, "Key": "copy"}, ServerSideEncryption="AES256")
        self.assertEqual(again["ServerSideEncryption"], "AES256")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="copy")["Body"].read(), expected)
        self.assert_no_plaintext_on_disk()

    def test_cli_multipart_upload(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.bin")
            data = body_with_markers(20 * MIB + 11)  # the CLI sends 8 MiB parts
            with open(src, "wb") as f:
                f.write(data)
            self.server.cli("s3", "cp", src, "s3://%s/cli" % self.bucket, timeout=300)
            self.assert_no_plaintext_on_disk()
            head = self.server.cli_json("s3api", "head-object", "--bucket", self.bucket, "--key", "cli")
            self.assertEqual(head["ServerSideEncryption"], "AES256")
            out = os.path.join(tmp, "out.bin")
            self.server.cli("s3", "cp", "s3://%s/cli" % self.bucket, out, timeout=300)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), data)

    def test_unsupported_encryption_values(self):
        self.assert_error("NotImplemented", 501, self.s3.put_object, Bucket=self.bucket, Key="dsse", Body=b"x", ServerSideEncryption="aws:kms:dsse")
        self.assert_error("NotImplemented", 501, self.s3.create_multipart_upload, Bucket=self.bucket, Key="dsse", ServerSideEncryption="aws:kms:dsse")
        self.assert_error("NotImplemented", 501, self.s3.put_bucket_encryption, Bucket=self.bucket,
                          ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}]})
        self.s3.put_object(Bucket=self.bucket, Key="src", Body=b"x")
        self.assert_error("NotImplemented", 501, self.s3.copy_object, Bucket=self.bucket, Key="dsse", CopySource={"Bucket": self.bucket, "Key": "src"},
                          ServerSideEncryption="aws:kms:dsse")
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket=self.bucket, Prefix="dsse"))  # nothing stored

    def managed_key(self):
        """The account's AWS managed key for S3 (aws/s3), as an SSE-KMS write reports it."""
        out = self.s3.put_object(Bucket=self.bucket, Key="probe", Body=b"x", ServerSideEncryption="aws:kms")
        return out["SSEKMSKeyId"]

    def test_sse_kms_with_the_aws_managed_key(self):
        data = body_with_markers(300 * 1024 + 5)
        out = self.s3.put_object(Bucket=self.bucket, Key="kms", Body=data, ServerSideEncryption="aws:kms")
        self.assertEqual(out["ServerSideEncryption"], "aws:kms")
        key_arn = out["SSEKMSKeyId"]
        self.assertRegex(key_arn, r"^arn:aws:kms:us-east-1:\d{12}:key/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertNotIn("BucketKeyEnabled", out)
        self.assert_no_plaintext_on_disk()
        for call in (self.s3.head_object, self.s3.get_object):
            got = call(Bucket=self.bucket, Key="kms")
            self.assertEqual((got["ServerSideEncryption"], got["SSEKMSKeyId"]), ("aws:kms", key_arn))
        got = self.s3.get_object(Bucket=self.bucket, Key="kms", Range="bytes=4090-70000")
        self.assertEqual(got["Body"].read(), data[4090:70001])
        # The same key by each of its names.
        for name in ("alias/aws/s3", key_arn, key_arn.rsplit("/", 1)[1], key_arn.rsplit(":", 1)[0] + ":alias/aws/s3"):
            out = self.s3.put_object(Bucket=self.bucket, Key="named", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=name)
            self.assertEqual(out["SSEKMSKeyId"], key_arn, name)
        # Keys that do not exist in KMS: S3's own messages for a missing key.
        account = key_arn.split(":")[4]
        missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
        for name, message in (("aws/s3", "Invalid keyId aws/s3"), ("alias/mine", "Invalid keyId alias/mine"),
                              (missing, "Key 'arn:aws:kms:us-east-1:%s:key/%s' does not exist" % (account, missing)),
                              ("arn:aws:kms:eu-west-1:%s:key/%s" % (account, missing), "Invalid arn eu-west-1")):
            error = self.assert_error("KMS.NotFoundException", 400, self.s3.put_object, Bucket=self.bucket, Key="missing", Body=b"x",
                                      ServerSideEncryption="aws:kms", SSEKMSKeyId=name)
            self.assertEqual(error["Message"], message)
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket=self.bucket, Prefix="missing"))
        # A key or context needs x-amz-server-side-encryption: aws:kms.
        for extra in ({}, {"ServerSideEncryption": "AES256"}):
            error = self.assert_error("InvalidArgument", 400, self.s3.put_object, Bucket=self.bucket, Key="k", Body=b"x", SSEKMSKeyId="alias/aws/s3", **extra)
            self.assertIn("requires HTTP header x-amz-server-side-encryption : aws:kms", error["Message"])
        self.assert_error("InvalidArgument", 400, self.s3.put_object, Bucket=self.bucket, Key="k", Body=b"x", ServerSideEncryption="aes256")
        # The encryption context: base64 JSON of strings, answered back by the write.
        context = base64.b64encode(b'{"project":"vigil","stage":"test"}').decode()
        out = self.s3.put_object(Bucket=self.bucket, Key="ctx", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=context,
                                 BucketKeyEnabled=True)
        self.assertEqual((out["SSEKMSEncryptionContext"], out["BucketKeyEnabled"]), (context, True))
        self.assertTrue(self.s3.head_object(Bucket=self.bucket, Key="ctx")["BucketKeyEnabled"])
        for bad in ("not base64!", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b'{"n":1}').decode()):
            error = self.assert_error("InvalidArgument", 400, self.s3.put_object, Bucket=self.bucket, Key="k", Body=b"x",
                                      ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=bad)
            self.assertIn("x-amz-server-side-encryption-context", error["Message"])
        # Another region's bucket has that region's key.
        west = self.server.client("s3", region="eu-west-1", **PATH_STYLE)
        west.create_bucket(Bucket="sse-west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        out = west.put_object(Bucket="sse-west", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
        self.assertTrue(out["SSEKMSKeyId"].startswith("arn:aws:kms:eu-west-1:%s:key/" % account))
        self.assertNotEqual(out["SSEKMSKeyId"].rsplit("/", 1)[1], key_arn.rsplit("/", 1)[1])

    def test_sse_kms_multipart_and_copy(self):
        key_arn = self.managed_key()
        data = body_with_markers(5 * MIB + 77)
        context = base64.b64encode(b'{"upload":"yes"}').decode()
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=context)
        self.assertEqual((up["ServerSideEncryption"], up["SSEKMSKeyId"], up["SSEKMSEncryptionContext"]), ("aws:kms", key_arn, context))
        parts = []
        for number, chunk in ((1, data[:5 * MIB]), (2, data[5 * MIB:])):
            part = self.s3.upload_part(Bucket=self.bucket, Key="mp", UploadId=up["UploadId"], PartNumber=number, Body=chunk)
            self.assertEqual((part["ServerSideEncryption"], part["SSEKMSKeyId"]), ("aws:kms", key_arn))
            parts.append({"PartNumber": number, "ETag": part["ETag"]})
        done = self.s3.complete_multipart_upload(Bucket=self.bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
        self.assertEqual((done["ServerSideEncryption"], done["SSEKMSKeyId"]), ("aws:kms", key_arn))
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key="mp")["ServerSideEncryption"], "aws:kms")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="mp")["Body"].read(), data)
        self.assert_no_plaintext_on_disk()
        # A copy is encrypted as its request says, else by the bucket's default, not as its source.
        source = {"Bucket": self.bucket, "Key": "mp"}
        copy = self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource=source)
        self.assertEqual(copy["ServerSideEncryption"], "AES256")
        self.assertNotIn("SSEKMSKeyId", self.s3.head_object(Bucket=self.bucket, Key="copy"))
        copy = self.s3.copy_object(Bucket=self.bucket, Key="copy", CopySource={"Bucket": self.bucket, "Key": "copy"}, ServerSideEncryption="aws:kms")
        self.assertEqual((copy["ServerSideEncryption"], copy["SSEKMSKeyId"]), ("aws:kms", key_arn))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="copy")["Body"].read(), data)
        self.assert_error("KMS.NotFoundException", 400, self.s3.copy_object, Bucket=self.bucket, Key="copy2", CopySource=source,
                          ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/other")

    def test_bucket_default_sse_kms(self):
        key_arn = self.managed_key()
        self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]})
        rules = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rules, [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}])
        out = self.s3.put_object(Bucket=self.bucket, Key="default", Body=b"x")
        self.assertEqual((out["ServerSideEncryption"], out["SSEKMSKeyId"], out["BucketKeyEnabled"]), ("aws:kms", key_arn, True))
        self.assertEqual(self.s3.put_object(Bucket=self.bucket, Key="aes", Body=b"x", ServerSideEncryption="AES256")["ServerSideEncryption"], "AES256")
        # The CLI's uploads get it too.
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "f.txt")
            with open(src, "wb") as f:
                f.write(b"cli body")
            self.server.cli("s3", "cp", src, "s3://%s/cli" % self.bucket)
            self.server.cli("s3", "cp", src, "s3://%s/cli-sse" % self.bucket, "--sse", "aws:kms", "--sse-kms-key-id", "alias/aws/s3")
        for key in ("cli", "cli-sse"):
            head = self.server.cli_json("s3api", "head-object", "--bucket", self.bucket, "--key", key)
            self.assertEqual((head["ServerSideEncryption"], head["SSEKMSKeyId"]), ("aws:kms", key_arn))
        # A default naming a key that does not exist is kept (S3 checks it when it is used) and
        # fails the writes that use it; one naming aws/s3 by alias works.
        for key_id in ("aws/s3", "alias/aws/s3"):
            self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})
            got = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
            self.assertEqual(got["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id})
        self.assertEqual(self.s3.put_object(Bucket=self.bucket, Key="alias", Body=b"x")["SSEKMSKeyId"], key_arn)
        self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "aws/s3"}}]})
        error = self.assert_error("KMS.NotFoundException", 400, self.s3.put_object, Bucket=self.bucket, Key="bad", Body=b"x")
        self.assertEqual(error["Message"], "Invalid keyId aws/s3")
        self.assert_error("InvalidArgument", 400, self.s3.put_bucket_encryption, Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "alias/aws/s3"}}]})
        self.s3.delete_bucket_encryption(Bucket=self.bucket)
        self.assertEqual(self.s3.put_object(Bucket=self.bucket, Key="bad", Body=b"x")["ServerSideEncryption"], "AES256")

    def test_bucket_encryption_round_trip(self):
        default = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]
        self.assertEqual(default["Rules"], [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}])
        self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
        rules = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rules, [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}])
        self.assertEqual(self.s3.delete_bucket_encryption(Bucket=self.bucket)["ResponseMetadata"]["HTTPStatusCode"], 204)
        rules = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        self.assertFalse(rules[0]["BucketKeyEnabled"])
        self.assert_error("NoSuchBucket", 404, self.s3.get_bucket_encryption, Bucket="no-such-bucket-x")
        self.assert_error("MalformedXML", 400, self.s3.put_bucket_encryption, Bucket=self.bucket,
                          ServerSideEncryptionConfiguration={"Rules": [{"BucketKeyEnabled": True}]})
        self.assert_error("MalformedXML", 400, self.s3.put_bucket_encryption, Bucket=self.bucket,
                          ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:fsx"}}]})
        with self.assertRaises(botocore.exceptions.ClientError) as cm:  # no rule at all (the model requires one)
            self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={"Rules": []})
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertFalse(self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["BucketKeyEnabled"])
        # The CLI too.
        self.server.cli("s3api", "put-bucket-encryption", "--bucket", self.bucket, "--server-side-encryption-configuration",
                        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}')
        out = self.server.cli_json("s3api", "get-bucket-encryption", "--bucket", self.bucket)
        self.assertEqual(out["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")

    def test_bucket_encryption_is_authorised(self):
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
            '"Action":["s3:PutEncryptionConfiguration","s3:GetEncryptionConfiguration"],"Resource":"arn:aws:s3:::%s"}]}' % self.bucket))
        self.assert_error("AccessDenied", 403, self.s3.get_bucket_encryption, Bucket=self.bucket)
        self.assert_error("AccessDenied", 403, self.s3.delete_bucket_encryption, Bucket=self.bucket)
        self.assert_error("AccessDenied", 403, self.s3.put_bucket_encryption, Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})

    def test_objects_survive_restart(self):
        data = body_with_markers(MIB + 1)
        self.s3.put_object(Bucket=self.bucket, Key="persist", Body=data)
        self.server.stop()
        self.server.start()
        type(self).s3.close()
        s3 = type(self).s3 = self.server.client("s3", **PATH_STYLE)
        self.assertEqual(s3.get_object(Bucket=self.bucket, Key="persist")["Body"].read(), data)


if __name__ == "__main__":
    unittest.main()
