"""S3 virtual-hosted-style addressing: boto3 with addressing_style "virtual" sends
Host: <bucket>.localhost:<port> (or <bucket>.s3.<region>.amazonaws.com) and a path that is
only the key; Vigil must route it to the bucket while verifying the signature over the Host
the client signed. Path style keeps working on the same server.

This machine's resolver does not map *.localhost (nor AWS's names) to loopback, so the test
process resolves those names to 127.0.0.1 itself: the client still builds and signs the
virtual-hosted request exactly as it would against AWS."""
import socket
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

from vigil_testing import ServerTestCase

_real_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost") or host.endswith(".amazonaws.com")
                                  or host.endswith(".vigil.test")):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


class VirtualHostTestCase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        socket.getaddrinfo = _loopback_getaddrinfo

    @classmethod
    def tearDownClass(cls):
        socket.getaddrinfo = _real_getaddrinfo
        super().tearDownClass()

    def client(self, endpoint, style="virtual", region="us-east-1"):
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id="test", aws_secret_access_key="test",
            # s3v4: presigned URLs would otherwise use SigV2, which Vigil does not accept.
            config=botocore.config.Config(s3={"addressing_style": style}, signature_version="s3v4", retries={"max_attempts": 1}))

    def capture_hosts(self, client):
        hosts = []
        client.meta.events.register("before-send.s3", lambda request, **kw: hosts.append(request.url.split("/")[2]))
        return hosts


class VirtualHostedStyle(VirtualHostTestCase):
    def test_localhost_names(self):
        for base in ("localhost", "s3.localhost"):
            s3 = self.client("http://%s:%d" % (base, self.server.port))
            hosts = self.capture_hosts(s3)
            bucket = "vh-" + base.replace(".", "-")
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"virtual")
            self.assertEqual(s3.get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read(), b"virtual")
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
            self.assertEqual([o["Key"] for o in listed["Contents"]], ["dir/a b.txt"])
            s3.delete_object(Bucket=bucket, Key="dir/a b.txt")
            # Every request went to <bucket>.<base>: the server routed them by Host.
            self.assertEqual(set(hosts), {"%s.%s:%d" % (bucket, base, self.server.port)})
            # Path style against the same server sees the same bucket.
            path_client = self.server.client("s3", s3={"addressing_style": "path"})
            self.assertIn(bucket, [b["Name"] for b in path_client.list_buckets()["Buckets"]])
            self.assertEqual(path_client.list_objects_v2(Bucket=bucket)["KeyCount"], 0)
            s3.delete_bucket(Bucket=bucket)

    def test_aws_host_names(self):
        # A client configured with AWS's regional endpoint name pointed at Vigil.
        s3 = self.client("http://s3.eu-west-1.amazonaws.com:%d" % self.server.port, region="eu-west-1")
        hosts = self.capture_hosts(s3)
        s3.create_bucket(Bucket="aws-named", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="aws-named", Key="k", Body=b"regional")
        self.assertEqual(s3.get_object(Bucket="aws-named", Key="k")["Body"].read(), b"regional")
        self.assertEqual(s3.get_bucket_location(Bucket="aws-named")["LocationConstraint"], "eu-west-1")
        self.assertIn("aws-named.s3.eu-west-1.amazonaws.com:%d" % self.server.port, hosts)
        s3g = self.client("http://s3.amazonaws.com:%d" % self.server.port)
        self.assertEqual(s3g.get_object(Bucket="aws-named", Key="k")["Body"].read(), b"regional")

    def test_errors_and_presigned_urls(self):
        s3 = self.client("http://localhost:%d" % self.server.port)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            s3.get_object(Bucket="no-such-bucket", Key="k")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchBucket")
        s3.create_bucket(Bucket="presigned")
        s3.put_object(Bucket="presigned", Key="p.txt", Body=b"signed url")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "p.txt"}, ExpiresIn=300)
        self.assertTrue(url.startswith("http://presigned.localhost:%d/p.txt?" % self.server.port), url)
        with urllib.request.urlopen(url) as response:
            self.assertEqual(response.read(), b"signed url")
        # The Host is signed: the same request sent to another bucket's host must not verify.
        bad = urllib.request.Request(url.replace("://presigned.", "://other-bucket.", 1))
        with self.assertRaises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad)
        self.assertEqual(err.exception.code, 403)
        self.assertIn(b"SignatureDoesNotMatch", err.exception.read())


class ConfiguredHostNames(VirtualHostTestCase):
    """The config's s3_virtual_host_suffixes replaces the default names."""
    server_config = 's3_virtual_host_suffixes = ["s3.vigil.test"]\n'

    def test_only_configured_names(self):
        s3 = self.client("http://s3.vigil.test:%d" % self.server.port)
        hosts = self.capture_hosts(s3)
        s3.create_bucket(Bucket="cfg-bucket")
        s3.put_object(Bucket="cfg-bucket", Key="k", Body=b"configured")
        self.assertEqual(s3.get_object(Bucket="cfg-bucket", Key="k")["Body"].read(), b"configured")
        self.assertEqual(set(hosts), {"cfg-bucket.s3.vigil.test:%d" % self.server.port})
        # cfg-bucket.localhost is no virtual host now: "/k" is read path-style, as bucket "k".
        local = self.client("http://localhost:%d" % self.server.port)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            local.get_object(Bucket="cfg-bucket", Key="k")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchBucket")


if __name__ == "__main__":
    unittest.main()
