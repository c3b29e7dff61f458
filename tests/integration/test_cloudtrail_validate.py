"""Log file integrity validation: a trail with EnableLogFileValidation writes signed, chained
digest files that the AWS CLI's `cloudtrail validate-logs` verifies, and the CLI detects a
tampered log file, a deleted log file and a tampered digest signature
(../shared/specs/cloudtrail-integrity.md).

Every validation runs twice: with the AWS CLI (not with Debian's awscli 2.9, see CLI_SKIP) and
with `vigil trail validate --endpoint`, which must agree with it: same exit status, same
verdict for every digest and log file both report, same INVALID counts and gap notices.
`vigil trail validate --data-dir` is checked on a stopped server's data directory."""
import datetime
import gzip
import json
import os
import re
import subprocess
import time
import unittest

from vigil_testing import FLAVOUR, REGION, VIGIL_BIN, ServerTestCase, VigilServer, allow_cloudtrail

PATH_STYLE = {"s3": {"addressing_style": "path"}}
ACCOUNT = "000000000000"
BUCKET = "trail-digests"
TRAIL = "validated"
DIGEST_PREFIX = "AWSLogs/%s/CloudTrail-Digest/us-east-1/" % ACCOUNT


def utc_text(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Debian's awscli 2.9 ignores AWS_ENDPOINT_URL, and validate-logs builds its S3 clients without
# --endpoint-url, so they would call real AWS S3 (spec §1): only `vigil trail validate` runs then.
CLI_SKIP = FLAVOUR == "debian"
VERDICT = re.compile(r"^(\(backfill\) )?(Digest file|Log file)\t(s3://\S+)\t(.*)$")
INVALID_COUNT = re.compile(r"(\d+)/\d+ (digest|backfill digest|log) files INVALID")


def vigil_validate(endpoint, arn, start, *extra, data_dir=None, timeout=180):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION})
    env.pop("AWS_ENDPOINT_URL", None)
    source = ["--data-dir", data_dir] if data_dir else ["--endpoint", endpoint]
    return subprocess.run([VIGIL_BIN, "trail", "validate", "--trail-arn", arn, "--start-time", start, "--verbose"] + source + list(extra),
                          env=env, capture_output=True, text=True, timeout=timeout)


def verdicts(result):
    """{(kind, s3 uri): "valid" | "INVALID: ..."} from a validate-logs run's output."""
    out = {}
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        m = VERDICT.match(line)
        if m:
            out[((m.group(1) or "") + m.group(2), m.group(3))] = m.group(4)
    return out


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

    def assert_agree(self, cli, vigil):
        """The CLI ran first; digests written since are newer, valid, and only in vigil's run."""
        both = cli.stdout + cli.stderr + vigil.stdout + vigil.stderr
        self.assertEqual(cli.returncode, vigil.returncode, both)
        cli_verdicts, vigil_verdicts = verdicts(cli), verdicts(vigil)
        self.assertTrue(cli_verdicts, both)
        for file, verdict in cli_verdicts.items():
            self.assertEqual(vigil_verdicts.get(file), verdict, "%s\n%s" % (file, both))
        for file, verdict in vigil_verdicts.items():
            if file not in cli_verdicts:
                self.assertEqual(verdict, "valid", "%s\n%s" % (file, both))
        self.assertEqual(INVALID_COUNT.findall(cli.stdout), INVALID_COUNT.findall(vigil.stdout), both)
        self.assertEqual("No log files were delivered by CloudTrail between" in cli.stderr,
                         "No log files were delivered by CloudTrail between" in vigil.stderr, both)
        self.assertEqual(cli.stdout.splitlines()[0].rsplit(" and ", 1)[0], vigil.stdout.splitlines()[0].rsplit(" and ", 1)[0])

    def validate(self, start):
        """Runs the AWS CLI (unless CLI_SKIP) and `vigil trail validate`, checks that they agree
        and returns both results, for the caller to check each the same way."""
        results = []
        if not CLI_SKIP:
            results.append(self.server.cli("cloudtrail", "validate-logs", "--trail-arn", self.arn, "--start-time", start,
                                           "--verbose", check=False, timeout=180))
        results.append(vigil_validate(self.server.endpoint, self.arn, start))
        if len(results) == 2:
            self.assert_agree(*results)
        return results

    def test_validate_logs_valid_then_tampered(self):
        start = utc_text(time.time() - 120)
        self.s3.create_bucket(Bucket=BUCKET)
        allow_cloudtrail(self.s3, BUCKET)  # CreateTrail checks the bucket policy, as AWS does
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

        for result in self.validate(start):
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

        for result in self.validate(start):
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
        allow_cloudtrail(self.s3, BUCKET)  # CreateTrail checks the bucket policy, as AWS does
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
        for result in self.validate(start):
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn("No log files were delivered by CloudTrail between", result.stderr)
            self.assertNotIn("INVALID", result.stdout + result.stderr)
            self.assertRegex(result.stdout, r"(\d+)/\1 digest files valid")


class OfflineDataDirTest(unittest.TestCase):
    """`vigil trail validate --data-dir` reads a stopped server's data directory in place, and
    agrees with `--endpoint` on the same data. The trail has a KMS key: its log files are
    SSE-KMS, their data keys wrapped by that key, which the offline reader must open too."""

    def test_data_dir_of_a_stopped_server(self):
        server = VigilServer(("--trail-delivery-interval", "1", "--trail-digest-interval", "3")).start()
        self.addCleanup(server.cleanup)
        s3 = server.client("s3", **PATH_STYLE)
        ct = server.client("cloudtrail")
        logs = server.client("logs")
        start = utc_text(time.time() - 120)
        s3.create_bucket(Bucket=BUCKET)
        allow_cloudtrail(s3, BUCKET, prefix="audit")
        key_arn = server.client("kms").create_key(Description="trail logs")["KeyMetadata"]["Arn"]
        arn = ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, S3KeyPrefix="audit", EnableLogFileValidation=True,
                              KmsKeyId=key_arn)["TrailARN"]
        ct.start_logging(Name=TRAIL)
        for i in range(4):
            logs.create_log_group(logGroupName="/offline/%d" % i)
            time.sleep(0.7)
        deadline = time.time() + 40
        while True:
            keys = [o["Key"] for o in s3.list_objects(Bucket=BUCKET, Prefix="audit/").get("Contents", [])]
            digests = [k for k in keys if "/CloudTrail-Digest/" in k]
            log_files = [k for k in keys if "/CloudTrail/" in k]
            if len(digests) >= 3 and len(log_files) >= 2:
                break
            self.assertLess(time.time(), deadline, keys)
            time.sleep(0.5)
        ct.stop_logging(Name=TRAIL)
        time.sleep(5)  # the last digest of the chain
        head = s3.head_object(Bucket=BUCKET, Key=log_files[-1])
        self.assertEqual((head["ServerSideEncryption"], head["SSEKMSKeyId"]), ("aws:kms", key_arn))
        changed = log_files[0]
        s3.put_object(Bucket=BUCKET, Key=changed, Body=gzip.compress(b'{"Records":[]}'))
        end = utc_text(time.time() + 60)

        # A running server holds the store's lock.
        locked = vigil_validate(None, arn, start, "--end-time", end, data_dir=server.data_dir)
        self.assertEqual(locked.returncode, 255, locked.stdout + locked.stderr)
        self.assertIn("--endpoint", locked.stderr)

        server.stop()
        offline = vigil_validate(None, arn, start, "--end-time", end, data_dir=server.data_dir)
        self.assertEqual(offline.returncode, 1, offline.stdout + offline.stderr)
        self.assertIn("Log file\ts3://%s/%s\tINVALID: hash value doesn't match" % (BUCKET, changed), offline.stderr)
        self.assertRegex(offline.stdout, r"(\d+)/\1 digest files valid\n")
        self.assertRegex(offline.stdout, r"\d+/\d+ log files valid, 1/\d+ log files INVALID")
        found = verdicts(offline)
        self.assertGreaterEqual(len([f for f in found if f[0] == "Digest file"]), 3, offline.stdout)

        server.start()
        online = vigil_validate(server.endpoint, arn, start, "--end-time", end)
        self.assertEqual(online.returncode, offline.returncode, online.stdout + online.stderr)
        online_found = verdicts(online)
        for file, verdict in found.items():
            self.assertEqual(online_found.get(file), verdict, file)
        self.assertEqual(INVALID_COUNT.findall(online.stdout), INVALID_COUNT.findall(offline.stdout))

    def test_command_line_errors(self):
        arn = "arn:aws:cloudtrail:us-east-1:000000000000:trail/none"
        missing = vigil_validate(None, arn, "2024-03-10", data_dir="/nonexistent/vigil-data")
        self.assertEqual(missing.returncode, 255, missing.stderr)
        bad = subprocess.run([VIGIL_BIN, "trail", "validate", "--trail-arn", arn], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("usage: vigil trail validate", bad.stderr)
        refused = vigil_validate("http://127.0.0.1:9", arn, "2024-03-10")  # nothing listens on the discard port
        self.assertEqual(refused.returncode, 255, refused.stderr)
        self.assertIn("Could not connect to the endpoint URL", refused.stderr)


if __name__ == "__main__":
    unittest.main()
