"""S3 additional checksums (x-amz-checksum-*): every algorithm put through boto3 and read back
with ChecksumMode=ENABLED; wrong values answer BadDigest and store nothing; checksums sent as
aws-chunked trailers (unsigned, and signed with x-amz-trailer-signature), in memory and
spooled; multipart uploads with composite and full-object checksums; CopyObject; and the CLI's
put-object / s3 cp. The expected values are computed here (zlib, hashlib, and the two CRCs
below), never taken from the server."""
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import shutil
import tempfile
import unittest
import zlib

import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from vigil_testing import PATH_STYLE, FLAVOUR, S3BucketTestCase

MIB = 1024 * 1024


def _crc_table(poly):
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc_table(0x82F63B78)
_CRC64NVME = _crc_table(0x9A6C9329AC4BC9B5)


def _reflected_crc(table, mask, data):
    c = mask
    for x in data:
        c = (c >> 8) ^ table[(c ^ x) & 0xFF]
    return c ^ mask


def checksum(algorithm, data):
    """The base64 value S3 puts in x-amz-checksum-<algorithm>."""
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = _reflected_crc(_CRC32C, 0xFFFFFFFF, data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        raw = _reflected_crc(_CRC64NVME, (1 << 64) - 1, data).to_bytes(8, "big")
    else:
        raw = hashlib.new(algorithm.lower(), data).digest()
    return base64.b64encode(raw).decode()


def composite(algorithm, parts):
    raw = b"".join(base64.b64decode(checksum(algorithm, p)) for p in parts)
    h = hashlib.new(algorithm.lower(), raw).digest() if algorithm.startswith("SHA") else base64.b64decode(checksum(algorithm, raw))
    return "%s-%d" % (base64.b64encode(h).decode(), len(parts))


def client_computes(algorithm):
    """Whether this boto3 computes the algorithm itself (CRC32C and CRC64NVME need awscrt)."""
    if algorithm in ("CRC32", "SHA1", "SHA256"):
        return True
    try:
        import awscrt  # noqa: F401
    except ImportError:
        return False
    return algorithm != "CRC64NVME" or FLAVOUR == "image"


def signing_key(date):
    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    return sign(sign(sign(sign(b"AWS4test", date), "us-east-1"), "s3"), "aws4_request")


def signed_headers(method, url, payload_hash, headers):
    """SigV4 headers by botocore's own S3 signer, with `payload_hash` as x-amz-content-sha256."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    headers = dict(headers)
    headers["x-amz-content-sha256"] = payload_hash
    headers.setdefault("X-Amz-Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    req = botocore.awsrequest.AWSRequest(method=method, url=url, headers=headers)
    signer = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials("test", "test"), "s3", "us-east-1")
    signer.payload = lambda request: payload_hash
    signer.add_auth(req)
    return dict(req.headers.items())


class ChecksumTestCase(S3BucketTestCase):
    bucket = "sums"

    def error(self, ctx):
        e = ctx.exception.response
        return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]

    def stored_checksum(self, key, **kwargs):
        """The x-amz-checksum-* headers of HeadObject with ChecksumMode=ENABLED (raw headers, so
        algorithms an older model lacks are seen too)."""
        head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED", **kwargs)
        return {k: v for k, v in head["ResponseMetadata"]["HTTPHeaders"].items() if k.startswith("x-amz-checksum-")}

    def assert_no_object(self, key):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        self.assertEqual(self.error(ctx)[1], 404)

    def raw_put(self, key, body, headers, payload_hash="UNSIGNED-PAYLOAD", sign_chunks=None):
        """A PUT over http.client, signed by botocore's signer. `sign_chunks(headers)` returns
        the body once the headers (with the seed signature) are known."""
        url = "%s/%s/%s" % (self.server.endpoint, self.bucket, key)
        headers = signed_headers("PUT", url, payload_hash, headers)
        if sign_chunks:
            body = sign_chunks(headers)
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            conn.request("PUT", "/%s/%s" % (self.bucket, key), body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


class PutAndGet(ChecksumTestCase):
    DATA = b"The quick brown fox jumps over the lazy dog\n" * 100

    def test_each_algorithm_through_boto3(self):
        # boto3 1.36+ asks for checksums on every GetObject unless told to only when required.
        try:
            self.unasked = self.server.client("s3", response_checksum_validation="when_required", **PATH_STYLE)
        except TypeError:
            self.unasked = self.s3
        for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
            with self.subTest(algorithm=algorithm):
                key = "obj-%s" % algorithm
                expected = checksum(algorithm, self.DATA)
                if client_computes(algorithm):
                    response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=self.DATA, ChecksumAlgorithm=algorithm)
                    self.assertEqual(response["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-" + algorithm.lower()], expected)
                else:
                    # The value computed here and sent as the header (signed with botocore's signer).
                    status, body = self.raw_put(key, self.DATA, {"x-amz-checksum-" + algorithm.lower(): expected})
                    self.assertEqual(status, 200, body)
                self.assertEqual(self.stored_checksum(key), {"x-amz-checksum-" + algorithm.lower(): expected,
                                                             "x-amz-checksum-type": "FULL_OBJECT"})
                got = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                self.assertEqual(got["Body"].read(), self.DATA)  # botocore validates what it can
                self.assertEqual(got["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-" + algorithm.lower()], expected)
                # Only when asked for, and never for a range (the value is the whole object's).
                plain = self.unasked.get_object(Bucket=self.bucket, Key=key)
                plain["Body"].read()
                self.assertFalse([h for h in plain["ResponseMetadata"]["HTTPHeaders"] if h.startswith("x-amz-checksum-")])
                ranged = self.s3.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-9", ChecksumMode="ENABLED")
                self.assertEqual(ranged["Body"].read(), self.DATA[:10])
                self.assertFalse([h for h in ranged["ResponseMetadata"]["HTTPHeaders"] if h.startswith("x-amz-checksum-")])
        listed = {o["Key"]: o.get("ChecksumAlgorithm") for o in self.s3.list_objects_v2(Bucket=self.bucket)["Contents"]}
        self.assertEqual(listed["obj-SHA256"], ["SHA256"])

    def test_without_a_checksum_s3_adds_crc64nvme(self):
        try:
            s3 = self.server.client("s3", request_checksum_calculation="when_required", **PATH_STYLE)
        except TypeError:  # botocore before 1.36 sends no checksum unless asked
            s3 = self.s3
        s3.put_object(Bucket=self.bucket, Key="plain", Body=self.DATA)
        self.assertEqual(self.stored_checksum("plain"), {"x-amz-checksum-crc64nvme": checksum("CRC64NVME", self.DATA),
                                                         "x-amz-checksum-type": "FULL_OBJECT"})

    def test_wrong_checksum_is_bad_digest_and_stores_nothing(self):
        for algorithm, member in (("CRC32", "ChecksumCRC32"), ("SHA256", "ChecksumSHA256"), ("SHA1", "ChecksumSHA1")):
            with self.subTest(algorithm=algorithm):
                wrong = checksum(algorithm, b"something else")
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    self.s3.put_object(Bucket=self.bucket, Key="bad", Body=self.DATA, **{member: wrong})
                self.assertEqual(self.error(ctx), ("BadDigest", 400))
                self.assertEqual(ctx.exception.response["Error"]["Message"],
                                 "The %s you specified did not match the calculated checksum." % algorithm)
                self.assert_no_object("bad")
        for algorithm in ("CRC32C", "CRC64NVME"):
            status, body = self.raw_put("bad", self.DATA, {"x-amz-checksum-" + algorithm.lower(): checksum(algorithm, b"x")})
            self.assertEqual(status, 400)
            self.assertIn(b"<Code>BadDigest</Code>", body)
            self.assert_no_object("bad")
        # Not base64 of the digest's size, or two checksums: InvalidRequest.
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="bad", Body=self.DATA, ChecksumCRC32="AAAA")
        self.assertEqual(self.error(ctx), ("InvalidRequest", 400))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="bad", Body=self.DATA, ChecksumCRC32=checksum("CRC32", self.DATA),
                               ChecksumSHA1=checksum("SHA1", self.DATA))
        self.assertEqual(self.error(ctx), ("InvalidRequest", 400))
        self.assert_no_object("bad")

    def test_spooled_body(self):
        # Above the server's in-memory threshold: the listener hashes the body as it spools it.
        data = os.urandom(9 * MIB)
        response = self.s3.put_object(Bucket=self.bucket, Key="big", Body=data, ChecksumSHA256=checksum("SHA256", data))
        self.assertEqual(response["ChecksumSHA256"], checksum("SHA256", data))
        self.assertEqual(self.stored_checksum("big")["x-amz-checksum-sha256"], checksum("SHA256", data))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="big-bad", Body=data, ChecksumCRC32=checksum("CRC32", data[1:]))
        self.assertEqual(self.error(ctx), ("BadDigest", 400))
        self.assert_no_object("big-bad")

    def test_copy_object(self):
        self.s3.put_object(Bucket=self.bucket, Key="src", Body=self.DATA, ChecksumAlgorithm="SHA256")
        copied = self.s3.copy_object(Bucket=self.bucket, Key="dst", CopySource="%s/src" % self.bucket, ChecksumAlgorithm="SHA1")
        self.assertEqual(copied["CopyObjectResult"]["ChecksumSHA1"], checksum("SHA1", self.DATA))
        self.assertEqual(self.stored_checksum("dst")["x-amz-checksum-sha1"], checksum("SHA1", self.DATA))
        # Without x-amz-checksum-algorithm the copy keeps the source's algorithm.
        self.s3.copy_object(Bucket=self.bucket, Key="dst2", CopySource="%s/src" % self.bucket)
        self.assertEqual(self.stored_checksum("dst2")["x-amz-checksum-sha256"], checksum("SHA256", self.DATA))


class Trailers(ChecksumTestCase):
    """aws-chunked bodies whose checksum comes after the payload (x-amz-trailer), as the SDKs
    send them over https: small (decoded in memory) and above the spooling threshold."""

    @staticmethod
    def unsigned_body(data, trailer_lines, chunk=64 * 1024):
        out = b""
        for i in range(0, len(data), chunk):
            piece = data[i:i + chunk]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        return out + b"0\r\n" + b"".join(l + b"\r\n" for l in trailer_lines) + b"\r\n"

    @staticmethod
    def signed_body(data, headers, trailer, forge=False, chunk=64 * 1024):
        seed = headers["Authorization"].split("Signature=")[1]
        amz_date = headers["X-Amz-Date"]
        scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
        key = signing_key(amz_date[:8])
        empty = hashlib.sha256(b"").hexdigest()
        previous, out = seed, b""
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
        for piece in pieces:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty, hashlib.sha256(piece).hexdigest()])
            previous = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out += b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode()) + piece + (b"\r\n" if piece else b"")
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, hashlib.sha256(trailer + b"\n").hexdigest()])
        signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if forge:
            trailer = b"x-amz-checksum-crc32:" + checksum("CRC32", b"forged").encode()
        return out + trailer + b"\r\nx-amz-trailer-signature:" + signature.encode() + b"\r\n\r\n"

    def streaming_headers(self, data, kind, trailer="x-amz-checksum-crc32"):
        return {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": trailer}

    def test_unsigned_trailer(self):
        for size in (1000, 9 * MIB + 17):
            with self.subTest(size=size):
                data = os.urandom(size)
                for algorithm in ("CRC32", "CRC32C", "SHA256"):
                    name = "x-amz-checksum-" + algorithm.lower()
                    key = "u-%d-%s" % (size, algorithm)
                    headers = self.streaming_headers(data, "unsigned", name)
                    body = self.unsigned_body(data, [name.encode() + b":" + checksum(algorithm, data).encode()])
                    status, answer = self.raw_put(key, body, headers, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                    self.assertEqual(status, 200, answer)
                    self.assertEqual(self.stored_checksum(key)[name], checksum(algorithm, data))
                    self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), data)
                # A wrong trailer value: BadDigest, nothing stored.
                body = self.unsigned_body(data, [b"x-amz-checksum-crc32:" + checksum("CRC32", data[1:]).encode()])
                status, answer = self.raw_put("u-bad", body, self.streaming_headers(data, "unsigned"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                self.assertEqual(status, 400)
                self.assertIn(b"<Code>BadDigest</Code>", answer)
                self.assert_no_object("u-bad")
                # The declared trailer missing: MalformedTrailerError.
                status, answer = self.raw_put("u-bad", self.unsigned_body(data, []), self.streaming_headers(data, "unsigned"),
                                              "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                self.assertEqual(status, 400)
                self.assertIn(b"<Code>MalformedTrailerError</Code>", answer)
                self.assert_no_object("u-bad")

    def test_signed_trailer(self):
        for size in (1000, 9 * MIB + 17):
            with self.subTest(size=size):
                data = os.urandom(size)
                trailer = b"x-amz-checksum-crc32:" + checksum("CRC32", data).encode()
                headers = self.streaming_headers(data, "signed")
                status, answer = self.raw_put("s", None, headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                                              sign_chunks=lambda h: self.signed_body(data, h, trailer))
                self.assertEqual(status, 200, answer)
                self.assertEqual(self.stored_checksum("s")["x-amz-checksum-crc32"], checksum("CRC32", data))
                # A checksum swapped under the trailer signature: the signature no longer matches.
                status, answer = self.raw_put("s-forged", None, headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                                              sign_chunks=lambda h: self.signed_body(data, h, trailer, forge=True))
                self.assertEqual(status, 403, answer)
                self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", answer)
                self.assert_no_object("s-forged")


class Multipart(ChecksumTestCase):
    def upload(self, key, parts, algorithm, list_checksums=True, **create):
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm=algorithm, **create)["UploadId"]
        done = []
        for number, data in enumerate(parts, 1):
            response = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                                           ChecksumAlgorithm=algorithm)
            self.assertEqual(response["Checksum" + algorithm], checksum(algorithm, data))
            entry = {"PartNumber": number, "ETag": response["ETag"]}
            if list_checksums:
                entry["Checksum" + algorithm] = response["Checksum" + algorithm]
            done.append(entry)
        return upload_id, done

    def test_composite(self):
        parts = [os.urandom(5 * MIB), b"the last part"]
        for algorithm in ("SHA256", "CRC32"):
            with self.subTest(algorithm=algorithm):
                key = "mp-" + algorithm
                upload_id, done = self.upload(key, parts, algorithm)
                listed = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
                self.assertEqual([p["Checksum" + algorithm] for p in listed["Parts"]], [checksum(algorithm, p) for p in parts])
                # A composite checksum needs every part's checksum in the completion.
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={
                        "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in done]})
                self.assertEqual(self.error(ctx), ("InvalidRequest", 400))
                wrong = [dict(done[0]), dict(done[1])]
                wrong[1]["Checksum" + algorithm] = done[0]["Checksum" + algorithm]
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": wrong})
                self.assertEqual(self.error(ctx), ("InvalidPart", 400))
                completed = self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})
                self.assertEqual(completed["Checksum" + algorithm], composite(algorithm, parts))
                self.assertEqual(self.stored_checksum(key), {"x-amz-checksum-" + algorithm.lower(): composite(algorithm, parts),
                                                             "x-amz-checksum-type": "COMPOSITE"})
                got = self.s3.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                self.assertEqual(got["Body"].read(), b"".join(parts))

    def test_part_checks(self):
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key="k", ChecksumAlgorithm="SHA1")["UploadId"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.upload_part(Bucket=self.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"abc",
                                ChecksumSHA1=checksum("SHA1", b"abd"))
        self.assertEqual(self.error(ctx), ("BadDigest", 400))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.upload_part(Bucket=self.bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"abc", ChecksumAlgorithm="SHA256")
        self.assertEqual(self.error(ctx), ("InvalidRequest", 400))
        self.assertNotIn("Parts", self.s3.list_parts(Bucket=self.bucket, Key="k", UploadId=upload_id))

    @unittest.skipIf(FLAVOUR == "debian", "Debian's botocore 1.29 predates ChecksumType")
    def test_full_object_and_rules(self):
        parts = [os.urandom(5 * MIB), b"end"]
        upload_id, done = self.upload("full", parts, "CRC32", list_checksums=False, ChecksumType="FULL_OBJECT")
        completed = self.s3.complete_multipart_upload(Bucket=self.bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": done},
                                                      ChecksumCRC32=checksum("CRC32", b"".join(parts)))
        self.assertEqual(completed["ChecksumCRC32"], checksum("CRC32", b"".join(parts)))
        self.assertEqual(completed["ChecksumType"], "FULL_OBJECT")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.create_multipart_upload(Bucket=self.bucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
        self.assertEqual(self.error(ctx), ("InvalidRequest", 400))

    def test_managed_upload(self):
        path = os.path.join(tempfile.mkdtemp(), "file.bin")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        data = os.urandom(12 * MIB)
        with open(path, "wb") as f:
            f.write(data)
        config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        self.s3.upload_file(path, self.bucket, "managed.bin", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=config)
        parts = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
        self.assertEqual(self.stored_checksum("managed.bin")["x-amz-checksum-sha256"], composite("SHA256", parts))


class Cli(ChecksumTestCase):
    def test_put_object_and_cp(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "small.txt")
        data = b"checksummed by the CLI\n" * 50
        with open(path, "wb") as f:
            f.write(data)
        out = self.server.cli_json("s3api", "put-object", "--bucket", self.bucket, "--key", "cli.txt", "--body", path,
                                   "--checksum-algorithm", "SHA256")
        self.assertEqual(out["ChecksumSHA256"], checksum("SHA256", data))
        head = self.server.cli_json("s3api", "head-object", "--bucket", self.bucket, "--key", "cli.txt", "--checksum-mode", "ENABLED")
        self.assertEqual(head["ChecksumSHA256"], checksum("SHA256", data))
        bad = self.server.cli("s3api", "put-object", "--bucket", self.bucket, "--key", "cli-bad.txt", "--body", path,
                              "--checksum-crc32", checksum("CRC32", b"other"), check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("BadDigest", bad.stderr)
        self.assert_no_object("cli-bad.txt")
        if FLAVOUR == "image":
            self.server.cli("s3", "cp", path, "s3://%s/cp.txt" % self.bucket, "--checksum-algorithm", "CRC32")
            self.assertEqual(self.stored_checksum("cp.txt")["x-amz-checksum-crc32"], checksum("CRC32", data))
        else:  # Debian's CLI 2.9: `s3 cp` has no --checksum-algorithm; the object gets S3's default
            self.server.cli("s3", "cp", path, "s3://%s/cp.txt" % self.bucket)
            self.assertEqual(self.stored_checksum("cp.txt")["x-amz-checksum-crc64nvme"], checksum("CRC64NVME", data))
        down = os.path.join(tmp, "down.txt")
        self.server.cli("s3", "cp", "s3://%s/cp.txt" % self.bucket, down)
        with open(down, "rb") as f:
            self.assertEqual(f.read(), data)


if __name__ == "__main__":
    unittest.main()
