"""S3 GetObject streams the object's file: a 120 MiB object downloads whole and in ranges with
boto3 and `aws s3 cp`, byte for byte, while the server's resident memory grows far less than
the object (a memory bound, not a timing one); a download that started keeps its bytes when
the object is overwritten or deleted meanwhile; conditional GETs and HEAD are unchanged.

Upload bodies stream to disk too: a 160 MiB PutObject (signed payload from boto3 and the CLI,
aws-chunked with chunk signatures, unsigned aws-chunked with a trailer over Transfer-Encoding:
chunked) goes up whole, past the listener's 64 MB in-memory limit, while the server's memory
grows far less than the body; the object reads back byte for byte; a wrong chunk signature,
payload hash or Content-MD5 stores nothing; a declared length above 5 GiB answers
EntityTooLarge before the body is sent."""
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import socket
import shutil
import tempfile
import threading
import time
import unittest
import zlib

import boto3.s3.transfer
import botocore.exceptions

from vigil_testing import ServerTestCase

PATH_STYLE = {"s3": {"addressing_style": "path"}}
MIB = 1024 * 1024
OBJECT_SIZE = 120 * MIB + 12345  # not a multiple of any chunk size
# Well under the object's size: the body buffered whole would exceed it on its own.
RSS_GROWTH_LIMIT = 60 * MIB


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


class PeakRss:
    """The server's peak resident memory above its level at the start, in bytes, sampled by a
    thread (and taken from VmHWM too when the kernel lets us reset it) while the block runs."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.base = status_kib(self.pid, "VmRSS")
        try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0, own processes)
            with open("/proc/%d/clear_refs" % self.pid, "w") as f:
                f.write("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.peak = self.base
        self.done = threading.Event()

        def sample():
            while not self.done.wait(0.01):
                self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
        if self.hwm_reset:
            self.peak = max(self.peak, status_kib(self.pid, "VmHWM"))
        self.growth = (self.peak - self.base) * 1024
        print("server RSS growth: %.1f MiB (base %.1f MiB)" % (self.growth / MIB, self.base / 1024.0))
        return False


class StreamingGet(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.source = os.path.join(cls.tmp, "source.bin")
        digest = hashlib.sha256()
        with open(cls.source, "wb") as f:
            left = OBJECT_SIZE
            while left:
                block = os.urandom(min(left, 8 * MIB))
                digest.update(block)
                f.write(block)
                left -= len(block)
        cls.sha256 = digest.hexdigest()
        cls.s3 = cls.server.client("s3", **PATH_STYLE)
        cls.bucket = "big"
        cls.key = "objects/large.bin"
        cls.s3.create_bucket(Bucket=cls.bucket)
        # In 16 MiB parts: UploadPart bodies above 8 MiB are spooled to disk by the listener.
        cls.s3.upload_file(cls.source, cls.bucket, cls.key,
                           Config=boto3.s3.transfer.TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)
        super().tearDownClass()

    def setUp(self):
        pass  # the tests share the uploaded object; none of them changes it

    def read_source(self, first, last):
        with open(self.source, "rb") as f:
            f.seek(first)
            return f.read(last - first + 1)

    def test_boto3_get_object_whole(self):
        with PeakRss(self.server.process.pid) as rss:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key)
            self.assertEqual(response["ContentLength"], OBJECT_SIZE)
            digest, size = hashlib.sha256(), 0
            for chunk in response["Body"].iter_chunks(MIB):
                digest.update(chunk)
                size += len(chunk)
        self.assertEqual(size, OBJECT_SIZE)
        self.assertEqual(digest.hexdigest(), self.sha256)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)

    def test_cli_cp_download(self):
        target = os.path.join(self.tmp, "cli-download.bin")
        self.addCleanup(lambda: os.path.exists(target) and os.remove(target))
        with PeakRss(self.server.process.pid) as rss:
            self.server.cli("s3", "cp", "s3://%s/%s" % (self.bucket, self.key), target, timeout=300)
        self.assertEqual(os.path.getsize(target), OBJECT_SIZE)
        digest = hashlib.sha256()
        with open(target, "rb") as f:
            for block in iter(lambda: f.read(8 * MIB), b""):
                digest.update(block)
        self.assertEqual(digest.hexdigest(), self.sha256)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)

    def test_ranges(self):
        last = OBJECT_SIZE - 1
        for header, first, end in [("bytes=0-0", 0, 0), ("bytes=1000-2000", 1000, 2000),
                                   ("bytes=%d-" % (OBJECT_SIZE - 700000), OBJECT_SIZE - 700000, last),
                                   ("bytes=-100", OBJECT_SIZE - 100, last),
                                   ("bytes=%d-%d" % (3 * MIB - 7, 5 * MIB + 3), 3 * MIB - 7, 5 * MIB + 3),
                                   ("bytes=%d-%d" % (last - 10, last + 5000), last - 10, last)]:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key, Range=header)
            self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 206, header)
            self.assertEqual(response["ContentRange"], "bytes %d-%d/%d" % (first, end, OBJECT_SIZE))
            self.assertEqual(response["ContentLength"], end - first + 1)
            self.assertEqual(response["Body"].read(), self.read_source(first, end), header)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key=self.key, Range="bytes=%d-" % OBJECT_SIZE)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidRange")

    def test_large_range_bounded_memory(self):
        first, last = 10 * MIB + 1, 110 * MIB
        with PeakRss(self.server.process.pid) as rss:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key, Range="bytes=%d-%d" % (first, last))
            digest = hashlib.sha256()
            for chunk in response["Body"].iter_chunks(MIB):
                digest.update(chunk)
        self.assertEqual(digest.hexdigest(), hashlib.sha256(self.read_source(first, last)).hexdigest())
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)

    def test_conditions_and_head(self):
        head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        self.assertEqual(head["ContentLength"], OBJECT_SIZE)
        etag = head["ETag"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key=self.key, IfNoneMatch=etag)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 304)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key=self.key, IfMatch='"0123"')
        self.assertEqual(ctx.exception.response["Error"]["Code"], "PreconditionFailed")
        response = self.s3.get_object(Bucket=self.bucket, Key=self.key, IfMatch=etag, Range="bytes=5-9")
        self.assertEqual(response["Body"].read(), self.read_source(5, 9))
        # The connection stays usable after streamed answers (keep-alive).
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key=self.key)["ETag"], etag)

    def test_empty_and_small_objects(self):
        self.s3.put_object(Bucket=self.bucket, Key="empty", Body=b"")
        response = self.s3.get_object(Bucket=self.bucket, Key="empty")
        self.assertEqual((response["ContentLength"], response["Body"].read()), (0, b""))
        self.s3.put_object(Bucket=self.bucket, Key="small", Body=b"hello", ContentType="text/plain")
        response = self.s3.get_object(Bucket=self.bucket, Key="small")
        self.assertEqual((response["ContentType"], response["Body"].read()), ("text/plain", b"hello"))
        self.s3.delete_object(Bucket=self.bucket, Key="small")
        self.s3.delete_object(Bucket=self.bucket, Key="empty")

    def test_overwrite_and_delete_during_download(self):
        # A copy of the big object, so that the shared one stays as it is.
        self.s3.copy_object(Bucket=self.bucket, Key="moving", CopySource={"Bucket": self.bucket, "Key": self.key})
        response = self.s3.get_object(Bucket=self.bucket, Key="moving")
        body = response["Body"]
        digest = hashlib.sha256(body.read(MIB))
        # The server is still sending (the socket buffers hold a few MB, not 120): replace the
        # object, then delete it; the download goes on with the bytes it started with.
        self.s3.put_object(Bucket=self.bucket, Key="moving", Body=b"new content")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="moving")["Body"].read(), b"new content")
        self.s3.delete_object(Bucket=self.bucket, Key="moving")
        for chunk in body.iter_chunks(MIB):
            digest.update(chunk)
        self.assertEqual(digest.hexdigest(), self.sha256)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="moving")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchKey")

    def test_abandoned_downloads_release_their_files(self):
        # A client that hangs up mid-body: the server drops the transfer and closes the file
        # (no descriptor leak), and keeps serving.
        fd_dir = "/proc/%d/fd" % self.server.process.pid
        object_dir = os.path.realpath(os.path.join(self.server.data_dir, "s3"))

        def open_object_files():
            count = 0
            for name in os.listdir(fd_dir):
                try:
                    count += os.readlink(os.path.join(fd_dir, name)).startswith(object_dir)
                except OSError:
                    pass  # closed meanwhile
            return count

        before = open_object_files()
        for _ in range(3):
            s3 = self.server.client("s3", **PATH_STYLE)  # its own connection, closed below
            body = s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]
            self.assertEqual(len(body.read(MIB)), MIB)
            self.assertGreater(open_object_files(), before)  # the transfer holds the file open
            body.close()
            s3.close()
        # The server notices the closed connections on its next write; wait for that (a
        # bound on liveness, not a timing assertion).
        deadline = time.time() + 60
        while open_object_files() > before and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(open_object_files(), before)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=self.key, Range="bytes=0-9")["Body"].read(),
                         self.read_source(0, 9))


PUT_SIZE = 160 * MIB + 4321  # above the 64 MB in-memory limit, not a multiple of any block


def file_blocks(path, size=8 * MIB):
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(size), b""):
            yield block


def signed_headers(method, url, payload_hash, headers):
    """SigV4 headers by botocore's own S3 signer, with `payload_hash` as x-amz-content-sha256."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    headers = dict(headers)
    headers["x-amz-content-sha256"] = payload_hash
    req = botocore.awsrequest.AWSRequest(method=method, url=url, headers=headers)
    signer = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials("test", "test"), "s3", "us-east-1")
    signer.payload = lambda request: payload_hash
    signer.add_auth(req)
    return dict(req.headers.items())


def chunk_signing_key(date):
    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    return sign(sign(sign(sign(b"AWS4test", date), "us-east-1"), "s3"), "aws4_request")


class StreamingPut(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.source = os.path.join(cls.tmp, "put.bin")
        sha, md5 = hashlib.sha256(), hashlib.md5()
        with open(cls.source, "wb") as f:
            left = PUT_SIZE
            while left:
                block = os.urandom(min(left, 8 * MIB))
                sha.update(block)
                md5.update(block)
                f.write(block)
                left -= len(block)
        cls.sha256, cls.md5 = sha.hexdigest(), md5.hexdigest()
        cls.s3 = cls.server.client("s3", **PATH_STYLE)
        cls.bucket = "uploads"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.s3.create_bucket(Bucket=self.bucket)

    def tearDown(self):
        # Every spool file was moved into place or removed: nothing is left behind.
        spool = os.path.join(self.server.data_dir, "s3", ".incoming")
        self.assertEqual(os.listdir(spool), [])

    def url(self, key):
        return "%s/%s/%s" % (self.server.endpoint, self.bucket, key)

    def assert_stored(self, key, size=PUT_SIZE, sha256=None, etag=None):
        response = self.s3.get_object(Bucket=self.bucket, Key=key)
        self.assertEqual(response["ContentLength"], size)
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(MIB):
            digest.update(chunk)
        self.assertEqual(digest.hexdigest(), sha256 or self.sha256)
        self.assertEqual(response["ETag"], '"%s"' % (etag or self.md5))

    def send(self, method, key, headers, body):
        """A request over http.client: `body` an iterable of blocks (sent as they come, with the
        headers' Content-Length, or chunked without one). Returns (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=300)
        try:
            chunked = not any(k.lower() == "content-length" for k in headers)
            conn.request(method, "/%s/%s" % (self.bucket, key), body=body, headers=headers, encode_chunked=chunked)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def test_boto3_put_object_signed_payload(self):
        # Over http botocore signs the payload: x-amz-content-sha256 is the body's hash, checked
        # by the server over the spooled file. Expect: 100-continue comes with it.
        with PeakRss(self.server.process.pid) as rss, open(self.source, "rb") as body:
            response = self.s3.put_object(Bucket=self.bucket, Key="boto3.bin", Body=body)
        self.assertEqual(response["ETag"], '"%s"' % self.md5)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)
        self.assert_stored("boto3.bin")

    def test_cli_put_object(self):
        with PeakRss(self.server.process.pid) as rss:
            out = self.server.cli_json("s3api", "put-object", "--bucket", self.bucket, "--key", "cli.bin", "--body", self.source, timeout=300)
        self.assertEqual(out["ETag"], '"%s"' % self.md5)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)
        self.assert_stored("cli.bin")

    def chunked_signed_body(self, headers, chunk_size, corrupt_at=None, size=PUT_SIZE):
        """The source file (its first `size` bytes) as STREAMING-AWS4-HMAC-SHA256-PAYLOAD
        chunks, signed in a chain from the request's seed signature, generated block by block."""
        seed = headers["Authorization"].split("Signature=")[1]
        amz_date = headers["X-Amz-Date"]
        scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
        key = chunk_signing_key(amz_date[:8])
        empty = hashlib.sha256(b"").hexdigest()
        state = {"previous": seed, "index": 0}

        def frame(chunk):
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, state["previous"], empty, hashlib.sha256(chunk).hexdigest()])
            sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            state["previous"] = sig
            if state["index"] == corrupt_at:
                sig = "0" * 64
            state["index"] += 1
            return b"%x;chunk-signature=%s\r\n" % (len(chunk), sig.encode()) + chunk + (b"\r\n" if chunk else b"")

        with open(self.source, "rb") as f:
            left = size
            while left:
                chunk = f.read(min(chunk_size, left))
                left -= len(chunk)
                yield frame(chunk)
        yield frame(b"")

    @staticmethod
    def chunked_length(size, chunk_size):
        def header(n):
            return len(b"%x;chunk-signature=" % n) + 64 + 2
        full, rest = divmod(size, chunk_size)
        total = full * (header(chunk_size) + chunk_size + 2)
        if rest:
            total += header(rest) + rest + 2
        return total + header(0)

    def test_aws_chunked_signed_upload(self):
        chunk_size = 64 * 1024
        url = self.url("chunked.bin")
        headers = signed_headers("PUT", url, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(PUT_SIZE),
            "Content-Length": str(self.chunked_length(PUT_SIZE, chunk_size)),
            "X-Amz-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        })
        with PeakRss(self.server.process.pid) as rss:
            status, body = self.send("PUT", "chunked.bin", headers, self.chunked_signed_body(headers, chunk_size))
        self.assertEqual(status, 200, body)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)
        self.assert_stored("chunked.bin")

    def test_aws_chunked_wrong_signature_stores_nothing(self):
        chunk_size, size = 64 * 1024, 12 * MIB  # above the spooling threshold
        url = self.url("bad-chunk.bin")
        headers = signed_headers("PUT", url, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(size),
            "Content-Length": str(self.chunked_length(size, chunk_size)),
            "X-Amz-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        })
        status, body = self.send("PUT", "bad-chunk.bin", headers, self.chunked_signed_body(headers, chunk_size, corrupt_at=150, size=size))
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        with self.assertRaises(self.s3.exceptions.NoSuchKey):
            self.s3.get_object(Bucket=self.bucket, Key="bad-chunk.bin")

    def test_unsigned_trailer_over_chunked_transfer(self):
        # STREAMING-UNSIGNED-PAYLOAD-TRAILER as botocore sends it over https, here with
        # Transfer-Encoding: chunked (no Content-Length): the listener spools it to the end.
        url = self.url("trailer.bin")
        headers = signed_headers("PUT", url, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(PUT_SIZE),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "X-Amz-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        })

        def body():
            # The trailer is the body's CRC32, computed as it goes (the server checks it).
            crc = 0
            for block in file_blocks(self.source, MIB):
                crc = zlib.crc32(block, crc)
                yield b"%x\r\n" % len(block) + block + b"\r\n"
            yield b"0\r\nx-amz-checksum-crc32:" + base64.b64encode(crc.to_bytes(4, "big")) + b"\r\n\r\n"
        with PeakRss(self.server.process.pid) as rss:
            status, answer = self.send("PUT", "trailer.bin", headers, body())
        self.assertEqual(status, 200, answer)
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)
        self.assert_stored("trailer.bin")

    def test_wrong_payload_hash_and_md5_store_nothing(self):
        size = 10 * MIB
        with open(self.source, "rb") as f:
            data = f.read(size)
        url = self.url("bad-hash.bin")
        headers = signed_headers("PUT", url, hashlib.sha256(b"something else").hexdigest(), {"Content-Length": str(size)})
        status, body = self.send("PUT", "bad-hash.bin", headers, [data])
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>XAmzContentSHA256Mismatch</Code>", body)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="bad-md5.bin", Body=data,
                               ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")  # the MD5 of nothing
        self.assertEqual(ctx.exception.response["Error"]["Code"], "BadDigest")
        for key in ("bad-hash.bin", "bad-md5.bin"):
            with self.assertRaises(self.s3.exceptions.NoSuchKey):
                self.s3.get_object(Bucket=self.bucket, Key=key)
        # A right Content-MD5 is accepted on the same path.
        import base64
        good = base64.b64encode(hashlib.md5(data).digest()).decode()
        self.s3.put_object(Bucket=self.bucket, Key="good-md5.bin", Body=data, ContentMD5=good)
        self.assert_stored("good-md5.bin", size=size, sha256=hashlib.sha256(data).hexdigest(), etag=hashlib.md5(data).hexdigest())

    def test_upload_part_streams(self):
        # Parts above the threshold take the spool path too (UploadPart), renamed into place.
        with PeakRss(self.server.process.pid) as rss:
            self.s3.upload_file(self.source, self.bucket, "multi.bin",
                                Config=boto3.s3.transfer.TransferConfig(multipart_threshold=48 * MIB, multipart_chunksize=48 * MIB,
                                                                        max_concurrency=2))
        self.assertLess(rss.growth, RSS_GROWTH_LIMIT)
        response = self.s3.get_object(Bucket=self.bucket, Key="multi.bin")
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(MIB):
            digest.update(chunk)
        self.assertEqual(digest.hexdigest(), self.sha256)

    def raw_put_headers(self, key, length, extra=(), payload_hash="UNSIGNED-PAYLOAD"):
        url = self.url(key)
        headers = signed_headers("PUT", url, payload_hash, dict([("Content-Length", str(length))] + list(extra)))
        lines = ["PUT /%s/%s HTTP/1.1" % (self.bucket, key), "Host: 127.0.0.1:%d" % self.server.port]
        lines += ["%s: %s" % (k, v) for k, v in headers.items() if k.lower() != "host"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def read_answer(self, sock):
        data = b""
        sock.settimeout(30)
        while b"</Error>" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        return data

    def test_entity_too_large_before_the_body(self):
        too_large = 5 * 1024 ** 3 + 1
        for expect in (False, True):
            with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
                extra = [("Expect", "100-continue")] if expect else []
                sock.sendall(self.raw_put_headers("huge.bin", too_large, extra))  # and never a body byte
                answer = self.read_answer(sock)
            head, _, body = answer.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 400 "), head)  # the final answer, no 100 Continue first
            self.assertIn(b"<Code>EntityTooLarge</Code>", body)
            self.assertIn(b"<Message>Your proposed upload exceeds the maximum allowed size</Message>", body)
            self.assertIn(b"<ProposedSize>%d</ProposedSize>" % too_large, body)
            self.assertIn(b"<MaxSizeAllowed>5368709120</MaxSizeAllowed>", body)
        # An aws-chunked body whose decoded length is declared above 5 GiB (its framed length
        # is not): refused before the body as well.
        with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
            sock.sendall(self.raw_put_headers("huge2.bin", 100 * MIB, [("x-amz-decoded-content-length", str(too_large)),
                                                                      ("Content-Encoding", "aws-chunked")],
                                              payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
            answer = self.read_answer(sock)
            self.assertIn(b"<Code>EntityTooLarge</Code>", answer)
            self.assertIn(b"<ProposedSize>%d</ProposedSize>" % too_large, answer)
        # The server stays up and stored nothing.
        self.assertEqual(self.s3.list_objects_v2(Bucket=self.bucket)["KeyCount"], 0)

    def test_a_bad_signature_is_refused_before_the_body(self):
        # The signature covers the head (and the declared payload hash), so S3 can refuse a
        # forged or unsigned upload before reading a byte of its body: nothing reaches the disk.
        good = self.raw_put_headers("forged.bin", 100 * MIB, [("Expect", "100-continue")])
        at = good.index(b"Signature=") + len(b"Signature=")
        forged = good[:at] + (b"1" if good[at:at + 1] == b"0" else b"0") + good[at + 1:]  # one hex digit changed
        unknown_key = good.replace(b"Credential=test/", b"Credential=AKIANOBODY/", 1)
        cases = ((forged, b"SignatureDoesNotMatch", b"HTTP/1.1 403 "), (unknown_key, b"InvalidAccessKeyId", b"HTTP/1.1 403 "))
        for raw, code, status in cases:
            with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
                sock.sendall(raw)  # and never a body byte
                answer = self.read_answer(sock)
            head, _, body = answer.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(status), head)  # the final answer, no 100 Continue first
            self.assertIn(b"<Code>%s</Code>" % code, body)
        # A good head is answered 100 Continue and the upload proceeds.
        with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
            sock.sendall(self.raw_put_headers("small-but-declared.bin", 9 * MIB, [("Expect", "100-continue")]))
            sock.settimeout(30)
            self.assertTrue(sock.recv(65536).startswith(b"HTTP/1.1 100 "))
            sock.sendall(b"x" * (9 * MIB))
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertEqual([o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket)["Contents"]], ["small-but-declared.bin"])


if __name__ == "__main__":
    unittest.main()
