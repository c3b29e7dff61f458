"""Log file integrity validation: a trail with EnableLogFileValidation writes signed, chained
digest files that the AWS CLI's `cloudtrail validate-logs` verifies, and the CLI detects a
tampered log file, a deleted log file and a tampered digest signature
(../shared/specs/cloudtrail-integrity.md)."""
import datetime
import gzip
import json
import time
import unittest

from vigil_testing import FLAVOUR, ServerTestCase

PATH_STYLE = {"s3": {"addressing_style": "path"}}
ACCOUNT = "000000000000"
BUCKET = "trail-digests"
TRAIL = "validated"
DIGEST_PREFIX = "AWSLogs/%s/CloudTrail-Digest/us-east-1/" % ACCOUNT


def utc_text(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@unittest.skipIf(FLAVOUR == "debian",
                 "Debian's awscli 2.9 ignores AWS_ENDPOINT_URL, and validate-logs builds its S3 clients "
                 "without --endpoint-url, so they would call real AWS S3 (spec §1)")
class ValidateLogsTest(ServerTestCase):
    server_args = ("--trail-delivery-interval", "1", "--trail-digest-interval", "3")

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.ct = self.server.client("cloudtrail")
        self.logs = self.server.client("logs")

    def digests(self):
        out = []
        for o in self.s3.list_objects(Bucket=BUCKET, Prefix=DIGEST_PREFIX).get("Contents", []):
            body = self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            out.append((o["Key"], json.loads(gzip.decompress(body))))
        return out

    def validate(self, start):
        return self.server.cli("cloudtrail", "validate-logs", "--trail-arn", self.arn, "--start-time", start,
                               "--verbose", check=False, timeout=180)

    def test_validate_logs_valid_then_tampered(self):
        start = utc_text(time.time() - 120)
        self.s3.create_bucket(Bucket=BUCKET)
        trail = self.ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, EnableLogFileValidation=True)
        self.assertTrue(trail["LogFileValidationEnabled"])
        self.arn = trail["TrailARN"]
        self.assertTrue(self.ct.get_trail(Name=TRAIL)["Trail"]["LogFileValidationEnabled"])
        self.ct.start_logging(Name=TRAIL)
        keys = self.ct.list_public_keys(StartTime=time.time() - 60)["PublicKeyList"]
        self.assertGreaterEqual(len(keys), 1)
        self.assertTrue(keys[0]["Value"].startswith(b"0\x82\x01\n"))  # PKCS#1 RSAPublicKey DER
        # Calls over a few seconds: several log files, in several digests.
        for i in range(6):
            self.logs.create_log_group(logGroupName="/validate/%d" % i)
            time.sleep(0.7)

        deadline = time.time() + 40
        while True:
            digests = self.digests()
            with_logs = [(k, d) for k, d in digests if d["logFiles"]]
            log_count = sum(len(d["logFiles"]) for _, d in digests)
            if len(digests) >= 3 and len(with_logs) >= 2 and log_count >= 3:
                break
            if time.time() > deadline:
                self.fail("not enough digests: %r" % [(k, len(d["logFiles"])) for k, d in digests])
            time.sleep(0.5)

        # The chain: each digest points at the one before it.
        first = digests[0][1]
        self.assertIsNone(first["previousDigestSignature"])
        for (pk, prev), (k, d) in zip(digests, digests[1:]):
            self.assertEqual(d["previousDigestS3Object"], pk)
            self.assertEqual(d["digestStartTime"], prev["digestEndTime"])
            self.assertEqual(d["digestSignatureAlgorithm"], "SHA256withRSA")
        head = self.s3.head_object(Bucket=BUCKET, Key=digests[-1][0])
        self.assertEqual(head["Metadata"]["signature-algorithm"], "SHA256withRSA")

        result = self.validate(start)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        out = result.stdout
        self.assertIn("Validating log files for trail %s" % self.arn, out)
        digest_lines = [l for l in out.splitlines() if l.startswith("Digest file\t")]
        log_lines = [l for l in out.splitlines() if l.startswith("Log file\t")]
        self.assertGreaterEqual(len(digest_lines), 3, out)
        self.assertGreaterEqual(len(log_lines), 3, out)
        self.assertTrue(all(l.endswith("\tvalid") for l in digest_lines + log_lines), out)
        self.assertRegex(out, r"(\d+)/\1 digest files valid")
        self.assertRegex(out, r"(\d+)/\1 log files valid")
        self.assertNotIn("INVALID", out + result.stderr)

        # Tamper: change one log file, delete another, forge one digest's signature metadata
        # (a digest other than those listing the two log files).
        logs = [(k, f["s3Object"]) for k, d in digests for f in d["logFiles"]]
        (digest_a, changed), (digest_b, deleted) = logs[0], logs[-1]
        self.assertNotEqual(changed, deleted)
        forged = next(k for k, _ in digests if k not in (digest_a, digest_b))
        self.s3.put_object(Bucket=BUCKET, Key=changed, Body=gzip.compress(b'{"Records":[]}'))
        self.s3.delete_object(Bucket=BUCKET, Key=deleted)
        self.s3.copy_object(Bucket=BUCKET, Key=forged, CopySource={"Bucket": BUCKET, "Key": forged},
                            MetadataDirective="REPLACE",
                            Metadata={"signature": "ab" * 256, "signature-algorithm": "SHA256withRSA"})

        result = self.validate(start)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        err = result.stderr
        self.assertIn("Log file\ts3://%s/%s\tINVALID: hash value doesn't match" % (BUCKET, changed), err)
        self.assertIn("Log file\ts3://%s/%s\tINVALID: not found" % (BUCKET, deleted), err)
        self.assertIn("Digest file\ts3://%s/%s\tINVALID: signature verification failed" % (BUCKET, forged), err)
        self.assertRegex(result.stdout, r"\d+/\d+ digest files valid, 1/\d+ digest files INVALID")
        self.assertRegex(result.stdout, r"\d+/\d+ log files valid, 2/\d+ log files INVALID")

    def wait_for_digests(self, count, timeout=30):
        deadline = time.time() + timeout
        while True:
            digests = self.digests()
            if len(digests) >= count:
                return digests
            if time.time() > deadline:
                self.fail("only %d digests" % len(digests))
            time.sleep(0.5)

    def test_stop_logging_leaves_a_gap_the_validator_reports(self):
        start = utc_text(time.time() - 120)
        self.s3.create_bucket(Bucket=BUCKET)
        self.arn = self.ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, EnableLogFileValidation=True)["TrailARN"]
        self.ct.start_logging(Name=TRAIL)
        self.logs.create_log_group(logGroupName="/before")
        self.wait_for_digests(2)
        self.ct.stop_logging(Name=TRAIL)
        time.sleep(5)
        self.ct.start_logging(Name=TRAIL)
        before = len(self.digests())
        self.logs.create_log_group(logGroupName="/after")
        digests = self.wait_for_digests(before + 2)
        restarts = [k for k, d in digests if d["previousDigestS3Object"] is None]
        self.assertEqual(len(restarts), 2, [k for k, _ in digests])
        result = self.validate(start)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("No log files were delivered by CloudTrail between", result.stderr)
        self.assertNotIn("INVALID", result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"(\d+)/\1 digest files valid")


if __name__ == "__main__":
    unittest.main()
