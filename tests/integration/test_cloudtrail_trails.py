"""Trails and log file delivery: a logging trail writes its account's calls as gzip JSON log
files into its S3 bucket, under AWS's key layout, driven by boto3 and the AWS CLI."""
import gzip
import json
import re
import time
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, VigilServer

PATH_STYLE = {"s3": {"addressing_style": "path"}}
ACCOUNT = "000000000000"
KEY_RE = re.compile(r"^(?:(?P<prefix>.+)/)?AWSLogs/000000000000/CloudTrail/(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
                    r"000000000000_CloudTrail_(?P=region)_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


class TrailTestCase(ServerTestCase):
    server_args = ("--trail-delivery-interval", "2")

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.ct = self.server.client("cloudtrail")
        self.logs = self.server.client("logs")

    def wait_for_delivery(self, name, after=None, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.ct.get_trail_status(Name=name)
            delivered = status.get("LatestDeliveryTime")
            if delivered and (after is None or delivered.timestamp() > after):
                return status
            time.sleep(0.25)
        self.fail("no delivery within %d s: %s" % (timeout, self.ct.get_trail_status(Name=name)))

    def wait_for_records(self, bucket, event_name, prefix="", timeout=15):
        """Delivery runs every 2 s, so the calls of a test may land in several files: wait until
        the last call of interest is delivered."""
        deadline = time.time() + timeout
        while True:
            keys, records = self.delivered_records(bucket, prefix)
            if event_name in [r["eventName"] for r in records] or time.time() > deadline:
                return keys, records
            time.sleep(0.25)

    def delivered_records(self, bucket, prefix=""):
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        records = []
        for key in keys:
            self.assertRegex(key, KEY_RE)
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            records.extend(json.loads(gzip.decompress(body))["Records"])
        return keys, records


class TrailManagement(TrailTestCase):
    def test_create_get_describe_list_update_delete(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        created = self.ct.create_trail(Name="main", S3BucketName="trail-bucket", S3KeyPrefix="audit",
                                       TagsList=[{"Key": "team", "Value": "sec"}])
        arn = "arn:aws:cloudtrail:us-east-1:%s:trail/main" % ACCOUNT
        self.assertEqual(created["TrailARN"], arn)
        self.assertEqual(created["S3KeyPrefix"], "audit")
        self.assertFalse(created["IsMultiRegionTrail"])
        trail = self.ct.get_trail(Name=arn)["Trail"]
        self.assertEqual(trail["HomeRegion"], "us-east-1")
        self.assertEqual(self.ct.describe_trails(trailNameList=["main"])["trailList"][0]["TrailARN"], arn)
        self.assertEqual([t["Name"] for t in self.ct.list_trails()["Trails"]], ["main"])
        self.assertEqual(self.ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"],
                         [{"Key": "team", "Value": "sec"}])
        self.ct.add_tags(ResourceId=arn, TagsList=[{"Key": "env", "Value": "dev"}])
        self.ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
        self.assertEqual(self.ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"],
                         [{"Key": "env", "Value": "dev"}])
        updated = self.ct.update_trail(Name="main", IsMultiRegionTrail=True)
        self.assertTrue(updated["IsMultiRegionTrail"])
        # A multi-region trail shows in other regions as a shadow trail.
        west = self.server.client("cloudtrail", region="eu-west-1")
        self.assertEqual(len(west.describe_trails()["trailList"]), 1)
        self.assertEqual(len(west.describe_trails(includeShadowTrails=False)["trailList"]), 0)
        with self.assertRaises(ClientError) as ctx:
            west.start_logging(Name=arn)
        self.assertEqual(error_code(ctx), "InvalidHomeRegionException")
        selectors = self.ct.get_event_selectors(TrailName="main")["EventSelectors"]
        self.assertEqual(selectors[0]["ReadWriteType"], "All")
        self.ct.put_event_selectors(TrailName="main", EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
        self.assertEqual(self.ct.get_event_selectors(TrailName="main")["EventSelectors"][0]["ReadWriteType"], "WriteOnly")
        self.ct.delete_trail(Name="main")
        with self.assertRaises(ClientError) as ctx:
            self.ct.get_trail(Name="main")
        self.assertEqual(error_code(ctx), "TrailNotFoundException")

    def test_errors(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="t", S3BucketName="trail-bucket")
        self.assertEqual(error_code(ctx), "InvalidTrailNameException")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="bad..name", S3BucketName="trail-bucket")
        self.assertEqual(error_code(ctx), "InvalidTrailNameException")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="no-such-bucket-here")
        self.assertEqual(error_code(ctx), "S3BucketDoesNotExistException")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        self.assertEqual(error_code(ctx), "TrailAlreadyExistsException")
        for call in (lambda: self.ct.get_trail_status(Name="missing"), lambda: self.ct.start_logging(Name="missing"),
                     lambda: self.ct.delete_trail(Name="missing")):
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertEqual(error_code(ctx), "TrailNotFoundException")


class Delivery(TrailTestCase):
    def test_logs_calls_are_delivered(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket", S3KeyPrefix="audit")
        self.logs.create_log_group(logGroupName="/before")  # not logging yet
        self.ct.start_logging(Name="main")
        started = self.ct.get_trail_status(Name="main")
        self.assertTrue(started["IsLogging"])
        self.assertIn("StartLoggingTime", started)
        self.logs.create_log_group(logGroupName="/audited")
        self.logs.describe_log_groups()
        self.logs.delete_log_group(logGroupName="/audited")
        self.wait_for_delivery("main")
        keys, records = self.wait_for_records("trail-bucket", "DeleteLogGroup", "audit/")
        self.assertTrue(keys)
        for key in keys:
            self.assertTrue(key.startswith("audit/AWSLogs/%s/CloudTrail/us-east-1/" % ACCOUNT), key)
        logs_records = [r for r in records if r["eventSource"] == "logs.amazonaws.com"]
        self.assertEqual([r["eventName"] for r in logs_records], ["CreateLogGroup", "DescribeLogGroups", "DeleteLogGroup"])
        for r in logs_records:
            self.assertEqual(r["recipientAccountId"], ACCOUNT)
            self.assertEqual(r["awsRegion"], "us-east-1")
        self.assertEqual(logs_records[0]["requestParameters"], {"logGroupName": "/audited"})
        # The trail's own management calls are recorded too (StartLogging was written).
        self.assertIn("GetTrailStatus", [r["eventName"] for r in records])

        self.ct.stop_logging(Name="main")
        status = self.ct.get_trail_status(Name="main")
        self.assertFalse(status["IsLogging"])
        self.assertIn("StopLoggingTime", status)
        # The StopLogging call itself is in the trail's logs, as in AWS.
        _, records = self.wait_for_records("trail-bucket", "StopLogging", "audit/")
        self.assertIn("StopLogging", [r["eventName"] for r in records])

    def test_delivery_error_is_reported(self):
        self.s3.create_bucket(Bucket="doomed-bucket")
        self.ct.create_trail(Name="main", S3BucketName="doomed-bucket")
        self.ct.start_logging(Name="main")
        self.s3.delete_bucket(Bucket="doomed-bucket")
        self.logs.create_log_group(logGroupName="/lost")
        deadline = time.time() + 15
        status = {}
        while time.time() < deadline:
            status = self.ct.get_trail_status(Name="main")
            if status.get("LatestDeliveryError"):
                break
            time.sleep(0.25)
        self.assertEqual(status.get("LatestDeliveryError"), "NoSuchBucket")


class Cli(TrailTestCase):
    def test_cli_trail_and_delivery(self):
        self.server.cli("s3api", "create-bucket", "--bucket", "cli-trail-bucket")
        created = self.server.cli_json("cloudtrail", "create-trail", "--name", "cli-trail", "--s3-bucket-name", "cli-trail-bucket")
        self.assertEqual(created["Name"], "cli-trail")
        self.server.cli("cloudtrail", "start-logging", "--name", "cli-trail")
        trails = self.server.cli_json("cloudtrail", "describe-trails")["trailList"]
        self.assertEqual([t["Name"] for t in trails], ["cli-trail"])
        self.server.cli("logs", "create-log-group", "--log-group-name", "/cli")
        self.wait_for_delivery("cli-trail")
        status = self.server.cli_json("cloudtrail", "get-trail-status", "--name", "cli-trail")
        self.assertTrue(status["IsLogging"])
        self.assertIn("LatestDeliveryTime", status)
        keys, records = self.wait_for_records("cli-trail-bucket", "CreateLogGroup")
        self.assertIn("CreateLogGroup", [r["eventName"] for r in records])
        self.server.cli("cloudtrail", "delete-trail", "--name", "cli-trail")
        self.assertEqual(self.server.cli_json("cloudtrail", "list-trails").get("Trails", []), [])


class DurableBuffer(unittest.TestCase):
    def test_kill_9_loses_no_buffered_record(self):
        # A long interval: nothing is delivered before the kill; after a restart with a short
        # one, every call acknowledged before the kill is in the delivered files.
        server = VigilServer(("--trail-delivery-interval", "3600")).start()
        try:
            s3 = server.client("s3", **PATH_STYLE)
            ct = server.client("cloudtrail")
            logs = server.client("logs")
            s3.create_bucket(Bucket="durable-bucket")
            ct.create_trail(Name="durable", S3BucketName="durable-bucket")
            ct.start_logging(Name="durable")
            names = ["/durable/%d" % i for i in range(20)]
            for name in names:
                logs.create_log_group(logGroupName=name)
            server.kill()
            server.extra_args = ["--trail-delivery-interval", "2"]
            server.start()
            s3 = server.client("s3", **PATH_STYLE)
            deadline = time.time() + 15
            delivered = []
            while time.time() < deadline:
                delivered = []
                for o in s3.list_objects_v2(Bucket="durable-bucket").get("Contents", []):
                    body = s3.get_object(Bucket="durable-bucket", Key=o["Key"])["Body"].read()
                    delivered += [r["requestParameters"]["logGroupName"] for r in json.loads(gzip.decompress(body))["Records"]
                                  if r["eventName"] == "CreateLogGroup"]
                if len(delivered) >= len(names):
                    break
                time.sleep(0.25)
            self.assertEqual(sorted(delivered), sorted(names))
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
