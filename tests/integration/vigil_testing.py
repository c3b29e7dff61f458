"""Starts a Vigil server for a test module and builds real clients pointed at it.

Each test module gets its own server on a free loopback port with a fresh data directory.
VIGIL_BIN names the binary; VIGIL_AWS_CLI names the AWS CLI to drive (v1 from the image or
Debian's v2); the Python running the test decides which boto3 is used.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VIGIL_BIN = os.environ.get("VIGIL_BIN", os.path.join(ROOT, "build", "vigil"))
AWS_CLI = os.environ.get("VIGIL_AWS_CLI", "aws")
FLAVOUR = os.environ.get("VIGIL_CLIENT_FLAVOUR", "image")
REGION = "us-east-1"


class VigilServer:
    def __init__(self, extra_args=(), config_text=None, data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="vigil-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.extra_args = list(extra_args)
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.tmp, "vigil.toml")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.process = None
        self.port = None

    def start(self, port=0):
        args = [VIGIL_BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", self.data_dir]
        if self.config_path:
            args += ["--config", self.config_path]
        args += self.extra_args
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        self.banner = []
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("vigil exited early: %s" % "".join(self.banner))
            self.banner.append(line)
            if line.startswith("vigil listening on http://"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
        else:
            raise RuntimeError("vigil did not start")
        # Keep draining output so the server never blocks on a full pipe.
        import threading
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        return self

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def reset(self):
        request = urllib.request.Request(self.endpoint + "/_vigil/reset", method="POST", data=b"")
        with urllib.request.urlopen(request) as response:
            assert response.status == 200

    def client(self, service, access_key="test", secret_key="test", region=REGION, **config):
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=botocore.config.Config(retries={"max_attempts": 1}, **config))

    def _cli_env(self, access_key, secret_key, region):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_PAGER": "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        return env

    def _cli_args(self, args):
        # Debian's awscli 2.9 predates AWS_ENDPOINT_URL: pass the endpoint explicitly too.
        return [AWS_CLI, "--output", "json", "--endpoint-url", self.endpoint] + list(args)

    def cli(self, *args, check=True, access_key="test", secret_key="test", region=REGION, timeout=120, input=None):
        env = self._cli_env(access_key, secret_key, region)
        result = subprocess.run(self._cli_args(args), env=env, capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError("aws %s failed (%d): %s" % (" ".join(args), result.returncode, result.stderr))
        return result

    def cli_json(self, *args, **kwargs):
        out = self.cli(*args, **kwargs).stdout
        return json.loads(out) if out.strip() else {}

    def cli_popen(self, *args, access_key="test", secret_key="test", region=REGION):
        """Starts a long-running CLI command (e.g. `logs tail --follow`) with unbuffered output;
        the caller stops it (terminate(), then wait())."""
        env = self._cli_env(access_key, secret_key, region)
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.Popen(self._cli_args(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class ServerTestCase(unittest.TestCase):
    """One server per test class; every test starts from an empty server (POST /_vigil/reset)."""
    server_args = ()
    server_config = None

    @classmethod
    def setUpClass(cls):
        cls.server = VigilServer(cls.server_args, cls.server_config).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.server.reset()


# Path-style S3 addressing (bucket in the path), for clients of tests that do not test addressing.
PATH_STYLE = {"s3": {"addressing_style": "path"}}


class S3BucketTestCase(ServerTestCase):
    """A path-style S3 client (self.s3) and the empty bucket named by the class's `bucket`."""
    bucket = "bucket"

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.s3.create_bucket(Bucket=self.bucket)


def multipart_etag(parts):
    """S3's ETag of a multipart object: the MD5 of its parts' MD5s, then -<part count>."""
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


def now_ms():
    return int(time.time() * 1000)


def cloudtrail_bucket_policy(bucket, account="000000000000", prefix=""):
    """The bucket policy AWS documents for CloudTrail log delivery (what `aws cloudtrail
    create-subscription` attaches): cloudtrail.amazonaws.com may read the bucket ACL and write
    under [prefix/]AWSLogs/<account>/ with bucket-owner-full-control."""
    key = (prefix + "/" if prefix else "") + "AWSLogs/%s/*" % account
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::%s" % bucket},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": "arn:aws:s3:::%s/%s" % (bucket, key),
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        ],
    }


def allow_cloudtrail(s3_client, bucket, account="000000000000", prefix=""):
    """Gives an existing bucket the policy CloudTrail needs before CreateTrail (as on AWS)."""
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(cloudtrail_bucket_policy(bucket, account, prefix)))
