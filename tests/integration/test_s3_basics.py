"""S3's first slice (path-style): buckets, objects, listing, copy, conditional and ranged reads,
signed / unsigned / aws-chunked payloads, account isolation, driven by boto3 and the AWS CLI."""
import base64
import datetime
import hashlib
import os
import tempfile
import unittest
import urllib.error
import urllib.request

import botocore.exceptions

from vigil_testing import FLAVOUR, ServerTestCase

PATH_STYLE = {"s3": {"addressing_style": "path"}}

OTHER_ACCOUNT = """
dev_credentials = true
[[accounts]]
id = "222222222222"
[[accounts.users]]
name = "bob"
access_key_id = "AKIABOB"
secret_access_key = "bob-secret"
"""


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


def status(ctx):
    return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]


class S3TestCase(ServerTestCase):
    server_config = OTHER_ACCOUNT

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **{"s3": {"addressing_style": "path"}})

    def make_bucket(self, name="bucket-one"):
        self.s3.create_bucket(Bucket=name)
        return name


class BucketTests(S3TestCase):
    def test_create_list_head_delete(self):
        self.s3.create_bucket(Bucket="alpha-bucket")
        self.s3.create_bucket(Bucket="beta.bucket")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertEqual(names, ["alpha-bucket", "beta.bucket"])
        self.assertEqual(self.s3.head_bucket(Bucket="alpha-bucket")["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.s3.delete_bucket(Bucket="alpha-bucket")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_bucket(Bucket="alpha-bucket")
        self.assertEqual(status(ctx), 404)
        with self.assertRaises(self.s3.exceptions.NoSuchBucket):
            self.s3.delete_bucket(Bucket="alpha-bucket")

    def test_invalid_names(self):
        for name in ["ab", "UPPER-case", "a..b", "-start", "192.168.1.1", "x" * 64, "under_score"]:
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                self.s3.create_bucket(Bucket=name)
            self.assertEqual(error_code(ctx), "InvalidBucketName", name)

    def test_already_owned_and_not_empty(self):
        self.make_bucket("dup-bucket")
        # North Virginia's legacy answer: re-creating your own bucket there is 200 OK.
        self.assertEqual(self.s3.create_bucket(Bucket="dup-bucket")["ResponseMetadata"]["HTTPStatusCode"], 200)
        # Every other region answers 409 BucketAlreadyOwnedByYou (test_s3_error_details).
        self.s3.put_object(Bucket="dup-bucket", Key="k", Body=b"x")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.delete_bucket(Bucket="dup-bucket")
        self.assertEqual((error_code(ctx), status(ctx)), ("BucketNotEmpty", 409))

    def test_location(self):
        self.make_bucket("east-bucket")
        self.assertIsNone(self.s3.get_bucket_location(Bucket="east-bucket")["LocationConstraint"])
        west = self.server.client("s3", region="eu-west-1", **{"s3": {"addressing_style": "path"}})
        west.create_bucket(Bucket="west-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.assertEqual(west.get_bucket_location(Bucket="west-bucket")["LocationConstraint"], "eu-west-1")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            west.create_bucket(Bucket="other-west", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
        self.assertEqual(error_code(ctx), "IllegalLocationConstraintException")

    def test_location_body_is_exact(self):
        # The CLI's validate-logs reads the root element's text: an empty element for us-east-1.
        self.make_bucket("raw-bucket")
        seen = {}

        def capture(http_response, **kwargs):
            seen["body"] = http_response.content

        self.s3.meta.events.register("after-call.s3.GetBucketLocation", capture)
        self.s3.get_bucket_location(Bucket="raw-bucket")
        self.assertIn(b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>', seen["body"])

    def test_account_isolation(self):
        self.make_bucket("mine-only")
        self.s3.put_object(Bucket="mine-only", Key="secret", Body=b"s")
        bob = self.server.client("s3", access_key="AKIABOB", secret_key="bob-secret", **{"s3": {"addressing_style": "path"}})
        self.assertEqual(bob.list_buckets()["Buckets"], [])
        for call in (lambda: bob.get_object(Bucket="mine-only", Key="secret"),
                     lambda: bob.list_objects_v2(Bucket="mine-only"),
                     lambda: bob.put_object(Bucket="mine-only", Key="x", Body=b"x"),
                     lambda: bob.delete_bucket(Bucket="mine-only")):
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                call()
            self.assertEqual((error_code(ctx), status(ctx)), ("AccessDenied", 403))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            bob.create_bucket(Bucket="mine-only")
        self.assertEqual((error_code(ctx), status(ctx)), ("BucketAlreadyExists", 409))

    def test_unserved_operation_is_not_implemented(self):
        self.make_bucket("plain-bucket")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_bucket_versioning(Bucket="plain-bucket")
        self.assertEqual((error_code(ctx), status(ctx)), ("NotImplemented", 501))


class ObjectTests(S3TestCase):
    def setUp(self):
        super().setUp()
        self.bucket = self.make_bucket("objects")

    def test_put_get_head_delete(self):
        body = b"hello, vigil\n" * 100
        put = self.s3.put_object(Bucket=self.bucket, Key="dir/a b+c.txt", Body=body, ContentType="text/plain",
                                 Metadata={"Owner": "team-a", "x": "1"})
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(body).hexdigest())
        got = self.s3.get_object(Bucket=self.bucket, Key="dir/a b+c.txt")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ContentType"], "text/plain")
        self.assertEqual(got["Metadata"], {"owner": "team-a", "x": "1"})
        self.assertEqual(got["ETag"], put["ETag"])
        head = self.s3.head_object(Bucket=self.bucket, Key="dir/a b+c.txt")
        self.assertEqual(head["ContentLength"], len(body))
        self.assertEqual(head["ETag"], put["ETag"])
        self.s3.delete_object(Bucket=self.bucket, Key="dir/a b+c.txt")
        with self.assertRaises(self.s3.exceptions.NoSuchKey):
            self.s3.get_object(Bucket=self.bucket, Key="dir/a b+c.txt")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="dir/a b+c.txt")
        self.assertEqual(status(ctx), 404)
        self.s3.delete_object(Bucket=self.bucket, Key="never-existed")  # idempotent

    def test_empty_object_and_overwrite(self):
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="k")["Body"].read(), b"")
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"second")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="k")["Body"].read(), b"second")

    def test_content_md5(self):
        good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
        self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"data", ContentMD5=good)
        wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"data", ContentMD5=wrong)
        self.assertEqual(error_code(ctx), "BadDigest")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"data", ContentMD5="bm90LW1kNQ==")
        self.assertEqual(error_code(ctx), "InvalidDigest")

    def test_range(self):
        self.s3.put_object(Bucket=self.bucket, Key="r", Body=b"0123456789")
        got = self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=2-5")
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(got["ContentRange"], "bytes 2-5/10")
        self.assertEqual(got["Body"].read(), b"2345")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=-3")["Body"].read(), b"789")
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=7-")["Body"].read(), b"789")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="r", Range="bytes=10-20")
        self.assertEqual((error_code(ctx), status(ctx)), ("InvalidRange", 416))

    def test_conditional_get(self):
        etag = self.s3.put_object(Bucket=self.bucket, Key="c", Body=b"abc")["ETag"]
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="c", IfMatch=etag)["Body"].read(), b"abc")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="c", IfMatch='"0000"')
        self.assertEqual((error_code(ctx), status(ctx)), ("PreconditionFailed", 412))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="c", IfNoneMatch=etag)
        self.assertEqual(status(ctx), 304)
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="c", IfModifiedSince=future)
        self.assertEqual(status(ctx), 304)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="c", IfModifiedSince=past)["Body"].read(), b"abc")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="c", IfUnmodifiedSince=past)
        self.assertEqual(status(ctx), 412)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="c", IfNoneMatch=etag)
        self.assertEqual(status(ctx), 304)

    def test_copy(self):
        self.s3.put_object(Bucket=self.bucket, Key="src", Body=b"payload", ContentType="text/x", Metadata={"a": "1"})
        self.s3.create_bucket(Bucket="copies")
        res = self.s3.copy_object(Bucket="copies", Key="dst", CopySource={"Bucket": self.bucket, "Key": "src"})
        self.assertEqual(res["CopyObjectResult"]["ETag"], '"%s"' % hashlib.md5(b"payload").hexdigest())
        got = self.s3.get_object(Bucket="copies", Key="dst")
        self.assertEqual((got["Body"].read(), got["ContentType"], got["Metadata"]), (b"payload", "text/x", {"a": "1"}))
        self.s3.copy_object(Bucket=self.bucket, Key="src", CopySource="%s/src" % self.bucket,
                            MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/y")
        got = self.s3.head_object(Bucket=self.bucket, Key="src")
        self.assertEqual((got["ContentType"], got["Metadata"]), ("text/y", {"b": "2"}))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.copy_object(Bucket=self.bucket, Key="src", CopySource="%s/src" % self.bucket)
        self.assertEqual(error_code(ctx), "InvalidRequest")
        with self.assertRaises(self.s3.exceptions.NoSuchKey):
            self.s3.copy_object(Bucket=self.bucket, Key="x", CopySource="%s/missing" % self.bucket)

    def test_delete_objects(self):
        for k in ("a", "b", "c"):
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=b"x")
        res = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
        self.assertEqual(sorted(d["Key"] for d in res["Deleted"]), ["a", "b", "zz"])
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]
        self.assertEqual(keys, ["c"])

    def test_unsigned_payload(self):
        # Presigned PUT: the payload is UNSIGNED-PAYLOAD.
        v4 = self.server.client("s3", signature_version="s3v4", **{"s3": {"addressing_style": "path"}})
        url = v4.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": "presigned"})
        self.assertIn("X-Amz-Signature=", url)
        request = urllib.request.Request(url, data=b"via presigned url", method="PUT")
        with urllib.request.urlopen(request) as response:
            self.assertEqual(response.status, 200)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="presigned")["Body"].read(), b"via presigned url")


class ListingTests(S3TestCase):
    def setUp(self):
        super().setUp()
        self.bucket = self.make_bucket("listing")
        self.keys = ["a.txt", "logs/2026/01/x.gz", "logs/2026/02/y.gz", "logs/readme", "photos/p 1.jpg", "z"]
        for k in self.keys:
            self.s3.put_object(Bucket=self.bucket, Key=k, Body=k.encode())

    def test_v1(self):
        res = self.s3.list_objects(Bucket=self.bucket)
        self.assertEqual([o["Key"] for o in res["Contents"]], self.keys)
        self.assertEqual(res["Contents"][0]["Size"], len("a.txt"))
        self.assertIn("Owner", res["Contents"][0])
        res = self.s3.list_objects(Bucket=self.bucket, Delimiter="/")
        self.assertEqual([o["Key"] for o in res["Contents"]], ["a.txt", "z"])
        self.assertEqual([p["Prefix"] for p in res["CommonPrefixes"]], ["logs/", "photos/"])
        res = self.s3.list_objects(Bucket=self.bucket, Prefix="logs/", Delimiter="/")
        self.assertEqual([o["Key"] for o in res["Contents"]], ["logs/readme"])
        self.assertEqual([p["Prefix"] for p in res["CommonPrefixes"]], ["logs/2026/"])
        res = self.s3.list_objects(Bucket=self.bucket, Marker="logs/2026/02/y.gz")
        self.assertEqual([o["Key"] for o in res["Contents"]], self.keys[3:])
        res = self.s3.list_objects(Bucket=self.bucket, MaxKeys=2, Delimiter="/")
        self.assertTrue(res["IsTruncated"])
        self.assertEqual(res["NextMarker"], "logs/")
        res = self.s3.list_objects(Bucket=self.bucket, Marker="logs/", Delimiter="/")
        self.assertEqual([p["Prefix"] for p in res["CommonPrefixes"]], ["photos/"])

    def test_v1_paginator_and_url_encoding(self):
        pages = self.s3.get_paginator("list_objects").paginate(Bucket=self.bucket, PaginationConfig={"PageSize": 2})
        self.assertEqual([o["Key"] for p in pages for o in p["Contents"]], self.keys)
        # botocore asks for encoding-type=url and decodes: the space must come back intact.
        seen = {}
        self.s3.meta.events.register("after-call.s3.ListObjects", lambda http_response, **kw: seen.update(body=http_response.content))
        res = self.s3.list_objects(Bucket=self.bucket, Prefix="photos/")
        self.assertEqual(res["Contents"][0]["Key"], "photos/p 1.jpg")
        self.assertIn(b"<Key>photos/p%201.jpg</Key>", seen["body"])

    def test_v2(self):
        res = self.s3.list_objects_v2(Bucket=self.bucket, MaxKeys=4)
        self.assertEqual(res["KeyCount"], 4)
        self.assertTrue(res["IsTruncated"])
        self.assertNotIn("Owner", res["Contents"][0])
        res2 = self.s3.list_objects_v2(Bucket=self.bucket, ContinuationToken=res["NextContinuationToken"], FetchOwner=True)
        self.assertEqual([o["Key"] for o in res2["Contents"]], self.keys[4:])
        self.assertIn("Owner", res2["Contents"][0])
        self.assertFalse(res2["IsTruncated"])
        res = self.s3.list_objects_v2(Bucket=self.bucket, StartAfter="logs/readme")
        self.assertEqual([o["Key"] for o in res["Contents"]], self.keys[4:])
        self.assertEqual(res["StartAfter"], "logs/readme")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Delimiter="/", PaginationConfig={"PageSize": 1})
        seen = []
        for p in pages:
            seen += [o["Key"] for o in p.get("Contents", [])] + [c["Prefix"] for c in p.get("CommonPrefixes", [])]
        self.assertEqual(seen, ["a.txt", "logs/", "photos/", "z"])
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.list_objects_v2(Bucket=self.bucket, ContinuationToken="garbage!")
        self.assertEqual(error_code(ctx), "InvalidArgument")

    def test_missing_bucket(self):
        with self.assertRaises(self.s3.exceptions.NoSuchBucket):
            self.s3.list_objects_v2(Bucket="no-such-bucket-here")


class ChunkedPayloadTests(S3TestCase):
    """aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), built by botocore's own signer."""

    def _send_chunked(self, key, chunks, corrupt_index=None):
        import hmac
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        date = now.strftime("%Y%m%d")
        scope = "%s/us-east-1/s3/aws4_request" % date
        payload_len = sum(len(c) for c in chunks)
        url = "%s/%s/%s" % (self.server.endpoint, self.bucket, key)
        req = botocore.awsrequest.AWSRequest(method="PUT", url=url, headers={
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(payload_len),
            "X-Amz-Date": amz_date,
        })
        creds = botocore.credentials.Credentials("test", "test")
        signer = botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1")
        # Sign with the streaming literal as payload hash.
        signer.payload = lambda request: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        signer.add_auth(req)
        seed = req.headers["Authorization"].split("Signature=")[1]
        amz_date = req.headers["X-Amz-Date"]  # what the signer actually used
        date = amz_date[:8]
        scope = "%s/us-east-1/s3/aws4_request" % date

        def sign(key_bytes, msg):
            return hmac.new(key_bytes, msg.encode(), hashlib.sha256).digest()

        k = sign(sign(sign(sign(b"AWS4test", date), "us-east-1"), "s3"), "aws4_request")
        previous = seed
        body = b""
        for i, chunk in enumerate(list(chunks) + [b""]):
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(chunk).hexdigest()])
            sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
            previous = sig
            if i == corrupt_index:
                sig = "0" * 64
            body += b"%x;chunk-signature=%s\r\n" % (len(chunk), sig.encode()) + chunk + b"\r\n"
        headers = dict(req.headers.items())
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def setUp(self):
        super().setUp()
        self.bucket = self.make_bucket("chunked")

    def test_chunked_upload_verified(self):
        status_code, _ = self._send_chunked("c1", [b"a" * 8192, b"b" * 100])
        self.assertEqual(status_code, 200)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="c1")["Body"].read(), b"a" * 8192 + b"b" * 100)

    def test_wrong_chunk_signature(self):
        status_code, body = self._send_chunked("c2", [b"a" * 8192, b"b" * 100], corrupt_index=1)
        self.assertEqual(status_code, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        with self.assertRaises(self.s3.exceptions.NoSuchKey):
            self.s3.get_object(Bucket=self.bucket, Key="c2")


class CliTests(S3TestCase):
    def setUp(self):
        super().setUp()
        self.bucket = self.make_bucket("cli-bucket")

    def test_s3api_roundtrip(self):
        self.server.cli("s3api", "create-bucket", "--bucket", "cli-made")
        names = [b["Name"] for b in self.server.cli_json("s3api", "list-buckets")["Buckets"]]
        self.assertIn("cli-made", names)
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"from the cli")
        try:
            self.server.cli("s3api", "put-object", "--bucket", "cli-made", "--key", "k.txt", "--body", f.name)
        finally:
            os.unlink(f.name)
        listed = self.server.cli_json("s3api", "list-objects-v2", "--bucket", "cli-made")
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["k.txt"])
        head = self.server.cli_json("s3api", "head-object", "--bucket", "cli-made", "--key", "k.txt")
        self.assertEqual(head["ContentLength"], len(b"from the cli"))
        loc = self.server.cli_json("s3api", "get-bucket-location", "--bucket", "cli-made")
        self.assertIsNone(loc.get("LocationConstraint"))

    def test_s3_cp_up_and_down(self):
        tmp = tempfile.mkdtemp()
        src = os.path.join(tmp, "up.bin")
        data = os.urandom(300 * 1024)
        with open(src, "wb") as f:
            f.write(data)
        self.server.cli("s3", "cp", src, "s3://%s/dir/up.bin" % self.bucket)
        got = self.s3.get_object(Bucket=self.bucket, Key="dir/up.bin")["Body"].read()
        self.assertEqual(got, data)
        dst = os.path.join(tmp, "down.bin")
        self.server.cli("s3", "cp", "s3://%s/dir/up.bin" % self.bucket, dst)
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), data)
        out = self.server.cli("s3", "ls", "s3://%s/dir/" % self.bucket).stdout
        self.assertIn("up.bin", out)


if __name__ == "__main__":
    unittest.main()
