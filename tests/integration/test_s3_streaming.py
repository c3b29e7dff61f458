"""S3 GetObject streams the object's file: a 120 MiB object downloads whole and in ranges with
boto3 and `aws s3 cp`, byte for byte, while the server's resident memory grows far less than
the object (a memory bound, not a timing one); a download that started keeps its bytes when
the object is overwritten or deleted meanwhile; conditional GETs and HEAD are unchanged."""
import hashlib
import os
import shutil
import tempfile
import threading
import time
import unittest

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
        # A PutObject body is buffered by the listener (64 MB cap): the object goes up in parts.
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


if __name__ == "__main__":
    unittest.main()
