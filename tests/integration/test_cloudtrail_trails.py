"""Trails and log file delivery: a logging trail writes its account's calls as gzip JSON log
files into its S3 bucket, under AWS's key layout, driven by boto3 and the AWS CLI."""
import calendar
import gzip
import json
import re
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, VigilServer, allow_cloudtrail, cloudtrail_bucket_policy

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

    def wait_for_delivery_error(self, name, timeout=15):
        deadline = time.time() + timeout
        while True:
            status = self.ct.get_trail_status(Name=name)
            if status.get("LatestDeliveryError") or time.time() > deadline:
                return status
            time.sleep(0.25)

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
        allow_cloudtrail(self.s3, "trail-bucket", prefix="audit")
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
        # The CreateTrail record names its parameters and response as AWS's records do.
        events = self.ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateTrail"}])["Events"]
        record = json.loads(events[0]["CloudTrailEvent"])
        self.assertEqual(record["requestParameters"]["name"], "main")
        self.assertEqual(record["requestParameters"]["s3BucketName"], "trail-bucket")
        self.assertEqual(record["requestParameters"]["tagsList"], [{"key": "team", "value": "sec"}])
        self.assertEqual(record["responseElements"]["trailARN"], arn)
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
        # As on AWS, the bucket must have a policy that lets CloudTrail write.
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        self.assertEqual(error_code(ctx), "InsufficientS3BucketPolicyException")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Incorrect S3 bucket policy is detected for bucket: trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
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
        allow_cloudtrail(self.s3, "trail-bucket", prefix="audit")
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
        allow_cloudtrail(self.s3, "doomed-bucket")
        self.ct.create_trail(Name="main", S3BucketName="doomed-bucket")
        self.ct.start_logging(Name="main")
        self.s3.delete_bucket(Bucket="doomed-bucket")
        self.logs.create_log_group(logGroupName="/lost")
        status = self.wait_for_delivery_error("main")
        self.assertEqual(status.get("LatestDeliveryError"), "NoSuchBucket")


class KmsEncryption(TrailTestCase):
    """KmsKeyId: resolved to the key's ARN, log files delivered SSE-KMS with it (digests stay
    SSE-S3, as AWS documents), errors for a missing or unusable key, and delivery failing while
    the key is disabled."""

    def test_log_files_are_encrypted_with_the_trail_key(self):
        kms = self.server.client("kms")
        key = kms.create_key(Description="trail")["KeyMetadata"]
        kms.create_alias(AliasName="alias/trail", TargetKeyId=key["KeyId"])
        self.s3.create_bucket(Bucket="kms-trail")
        allow_cloudtrail(self.s3, "kms-trail")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="kms-trail", KmsKeyId="alias/none")
        self.assertEqual(error_code(ctx), "KmsKeyNotFoundException")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="kms-trail", KmsKeyId="not a key")
        self.assertEqual(error_code(ctx), "InvalidKmsKeyIdException")
        created = self.ct.create_trail(Name="main", S3BucketName="kms-trail", KmsKeyId="alias/trail", EnableLogFileValidation=True)
        self.assertEqual(created["KmsKeyId"], key["Arn"])
        self.assertEqual(self.ct.get_trail(Name="main")["Trail"]["KmsKeyId"], key["Arn"])
        self.assertEqual(self.ct.describe_trails(trailNameList=["main"])["trailList"][0]["KmsKeyId"], key["Arn"])
        self.ct.start_logging(Name="main")
        self.logs.create_log_group(logGroupName="/encrypted")
        keys, records = self.wait_for_records("kms-trail", "CreateLogGroup")
        self.assertIn("CreateLogGroup", [r["eventName"] for r in records])
        for k in keys:
            head = self.s3.head_object(Bucket="kms-trail", Key=k)
            self.assertEqual((head["ServerSideEncryption"], head["SSEKMSKeyId"]), ("aws:kms", key["Arn"]), k)
        # A disabled key fails delivery, and a trail cannot be given one.
        kms.disable_key(KeyId=key["KeyId"])
        with self.assertRaises(ClientError) as ctx:
            self.ct.update_trail(Name="main", KmsKeyId=key["KeyId"])
        self.assertEqual(error_code(ctx), "KmsException")
        self.logs.create_log_group(logGroupName="/undelivered")
        status = self.wait_for_delivery_error("main")
        self.assertEqual(status.get("LatestDeliveryError"), "KMS.DisabledException")
        # Enabled again, the held records are delivered; an empty KmsKeyId turns SSE-KMS off.
        kms.enable_key(KeyId=key["KeyId"])
        self.wait_for_records("kms-trail", "CreateLogGroup")
        _, records = self.wait_for_records("kms-trail", "DisableKey")
        self.assertIn("/undelivered", [r["requestParameters"].get("logGroupName") for r in records if r["eventName"] == "CreateLogGroup"])
        self.assertNotIn("KmsKeyId", self.ct.update_trail(Name="main", KmsKeyId=""))
        self.assertNotIn("KmsKeyId", self.ct.get_trail(Name="main")["Trail"])


class Notifications(TrailTestCase):
    def setUp(self):
        super().setUp()
        from test_sns_core import Receiver  # the SNS tests' http subscriber endpoint
        self.sns = self.server.client("sns")
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)

    def test_topic_validation_and_view(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket", SnsTopicName="missing-topic")
        self.assertEqual(error_code(ctx), "InsufficientSnsTopicPolicyException")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "SNS Topic does not exist or the topic policy is incorrect!")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket", SnsTopicName="bad name!")
        self.assertEqual(error_code(ctx), "InvalidSnsTopicNameException")
        topic = self.sns.create_topic(Name="trail-files")["TopicArn"]
        created = self.ct.create_trail(Name="main", S3BucketName="trail-bucket", SnsTopicName="trail-files")
        self.assertEqual(created["SnsTopicARN"], topic)
        self.assertEqual(created["SnsTopicName"], "trail-files")
        trail = self.ct.describe_trails(trailNameList=["main"])["trailList"][0]
        self.assertEqual((trail["SnsTopicName"], trail["SnsTopicARN"]), ("trail-files", topic))
        # By ARN too; an empty name turns notifications off.
        self.ct.update_trail(Name="main", SnsTopicName=topic)
        self.assertEqual(self.ct.get_trail(Name="main")["Trail"]["SnsTopicARN"], topic)
        self.ct.update_trail(Name="main", SnsTopicName="")
        self.assertNotIn("SnsTopicARN", self.ct.get_trail(Name="main")["Trail"])

    def test_one_notification_per_log_file(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        topic = self.sns.create_topic(Name="trail-files")["TopicArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=self.receiver.url)
        _, confirmation = self.receiver.next()
        with urllib.request.urlopen(confirmation["SubscribeURL"]) as r:
            self.assertEqual(r.status, 200)
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket", SnsTopicName=topic)
        self.ct.start_logging(Name="main")
        self.logs.create_log_group(logGroupName="/notified")
        headers, m = self.receiver.next(timeout=15)
        self.assertEqual(headers["x-amz-sns-message-type"], "Notification")
        self.assertEqual(m["TopicArn"], topic)
        body = json.loads(m["Message"])
        self.assertEqual(list(body), ["s3Bucket", "s3ObjectKey"])
        self.assertEqual(body["s3Bucket"], "trail-bucket")
        self.assertEqual(len(body["s3ObjectKey"]), 1)
        self.assertRegex(body["s3ObjectKey"][0], KEY_RE)
        # The named file exists.
        self.s3.head_object(Bucket="trail-bucket", Key=body["s3ObjectKey"][0])
        status = self.ct.get_trail_status(Name="main")
        self.assertIn("LatestNotificationTime", status)
        self.assertNotIn("LatestNotificationError", status)
        self.assertTrue(status["LatestNotificationAttemptSucceeded"])
        # A topic deleted later: the file is still delivered and the error shows.
        self.sns.delete_topic(TopicArn=topic)
        self.logs.create_log_group(logGroupName="/unnotified")
        deadline = time.time() + 15
        while time.time() < deadline and "LatestNotificationError" not in status:
            time.sleep(0.25)
            status = self.ct.get_trail_status(Name="main")
        self.assertEqual(status.get("LatestNotificationError"), "NotFound")


class CloudWatchLogsDelivery(TrailTestCase):
    ROLE = "arn:aws:iam::%s:role/CloudTrail_CloudWatchLogs_Role" % ACCOUNT

    def test_validation(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        group_arn = "arn:aws:logs:us-east-1:%s:log-group:CloudTrail/logs:*" % ACCOUNT
        for kwargs, code in [
            (dict(CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=self.ROLE), "InvalidCloudWatchLogsLogGroupArnException"),
            (dict(CloudWatchLogsLogGroupArn=group_arn), "InvalidCloudWatchLogsRoleArnException"),
            (dict(CloudWatchLogsRoleArn=self.ROLE), "InvalidCloudWatchLogsLogGroupArnException"),
            (dict(CloudWatchLogsLogGroupArn="not-an-arn", CloudWatchLogsRoleArn=self.ROLE), "InvalidCloudWatchLogsLogGroupArnException"),
        ]:
            with self.assertRaises(ClientError) as ctx:
                self.ct.create_trail(Name="main", S3BucketName="trail-bucket", **kwargs)
            self.assertEqual(error_code(ctx), code, kwargs)
        self.logs.create_log_group(logGroupName="CloudTrail/logs")
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket", CloudWatchLogsLogGroupArn=group_arn,
                                 CloudWatchLogsRoleArn="arn:aws:iam::111111111111:role/elsewhere")
        self.assertEqual(error_code(ctx), "InvalidCloudWatchLogsRoleArnException")
        created = self.ct.create_trail(Name="main", S3BucketName="trail-bucket", CloudWatchLogsLogGroupArn=group_arn,
                                       CloudWatchLogsRoleArn=self.ROLE)
        self.assertEqual(created["CloudWatchLogsLogGroupArn"], group_arn)
        self.assertEqual(created["CloudWatchLogsRoleArn"], self.ROLE)
        # Both empty: delivery to CloudWatch Logs off.
        self.ct.update_trail(Name="main", CloudWatchLogsLogGroupArn="", CloudWatchLogsRoleArn="")
        self.assertNotIn("CloudWatchLogsLogGroupArn", self.ct.get_trail(Name="main")["Trail"])

    def test_events_are_delivered_to_the_log_group(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        self.logs.create_log_group(logGroupName="CloudTrail/logs")
        group_arn = [g["arn"] for g in self.logs.describe_log_groups(logGroupNamePrefix="CloudTrail/logs")["logGroups"]][0]
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket", CloudWatchLogsLogGroupArn=group_arn,
                             CloudWatchLogsRoleArn=self.ROLE)
        self.ct.start_logging(Name="main")
        self.logs.create_log_group(logGroupName="/to-cwl")
        stream = "%s_CloudTrail_us-east-1" % ACCOUNT
        deadline = time.time() + 15
        messages = []
        while time.time() < deadline:
            try:
                events = self.logs.get_log_events(logGroupName="CloudTrail/logs", logStreamName=stream, startFromHead=True)["events"]
            except ClientError:
                events = []
            messages = [json.loads(e["message"]) for e in events]
            if "CreateLogGroup" in [m["eventName"] for m in messages if m.get("requestParameters", {}).get("logGroupName") == "/to-cwl"]:
                break
            time.sleep(0.25)
        record = [m for m in messages if m["eventName"] == "CreateLogGroup" and m["requestParameters"]["logGroupName"] == "/to-cwl"][0]
        event = [e for e in events if json.loads(e["message"]) == record][0]
        event_ms = calendar.timegm(time.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")) * 1000
        self.assertEqual(event["timestamp"], event_ms)
        streams = [s["logStreamName"] for s in self.logs.describe_log_streams(logGroupName="CloudTrail/logs")["logStreams"]]
        self.assertEqual(streams, [stream])
        status = self.ct.get_trail_status(Name="main")
        self.assertIn("LatestCloudWatchLogsDeliveryTime", status)
        self.assertNotIn("LatestCloudWatchLogsDeliveryError", status)
        # The group deleted: S3 delivery goes on, the error shows.
        self.logs.delete_log_group(logGroupName="CloudTrail/logs")
        deadline = time.time() + 15
        while time.time() < deadline and "LatestCloudWatchLogsDeliveryError" not in status:
            time.sleep(0.25)
            status = self.ct.get_trail_status(Name="main")
        self.assertEqual(status.get("LatestCloudWatchLogsDeliveryError"), "ResourceNotFoundException")


class BucketPolicyEnforcement(TrailTestCase):
    def test_policy_must_cover_the_prefix_and_conditions(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")  # covers AWSLogs/..., not audit/AWSLogs/...
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="main", S3BucketName="trail-bucket", S3KeyPrefix="audit")
        self.assertEqual(error_code(ctx), "InsufficientS3BucketPolicyException")
        # AWS's documented policy with aws:SourceArn: only the named trail may write.
        policy = cloudtrail_bucket_policy("trail-bucket")
        for statement in policy["Statement"]:
            statement.setdefault("Condition", {})["StringEquals"] = dict(
                statement.get("Condition", {}).get("StringEquals", {}),
                **{"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:%s:trail/main" % ACCOUNT})
        self.s3.put_bucket_policy(Bucket="trail-bucket", Policy=json.dumps(policy))
        with self.assertRaises(ClientError) as ctx:
            self.ct.create_trail(Name="other", S3BucketName="trail-bucket")
        self.assertEqual(error_code(ctx), "InsufficientS3BucketPolicyException")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        # Moving to a bucket without a policy is refused the same way.
        self.s3.create_bucket(Bucket="bare-bucket")
        with self.assertRaises(ClientError) as ctx:
            self.ct.update_trail(Name="main", S3BucketName="bare-bucket")
        self.assertEqual(error_code(ctx), "InsufficientS3BucketPolicyException")

    def test_policy_removed_after_creation_stops_delivery(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        self.s3.delete_bucket_policy(Bucket="trail-bucket")
        self.ct.start_logging(Name="main")
        self.logs.create_log_group(logGroupName="/denied")
        status = self.wait_for_delivery_error("main")
        self.assertEqual(status.get("LatestDeliveryError"), "AccessDenied")
        self.assertEqual(self.s3.list_objects_v2(Bucket="trail-bucket").get("KeyCount"), 0)
        # An explicit Deny wins over the Allow.
        policy = cloudtrail_bucket_policy("trail-bucket")
        policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                    "Resource": "arn:aws:s3:::trail-bucket/*"})
        self.s3.put_bucket_policy(Bucket="trail-bucket", Policy=json.dumps(policy))
        time.sleep(3)
        self.assertEqual(self.ct.get_trail_status(Name="main").get("LatestDeliveryError"), "AccessDenied")
        self.assertEqual(self.s3.list_objects_v2(Bucket="trail-bucket").get("KeyCount"), 0)
        # The policy restored: the buffered records are delivered.
        allow_cloudtrail(self.s3, "trail-bucket")
        _, records = self.wait_for_records("trail-bucket", "CreateLogGroup")
        self.assertIn("/denied", [r["requestParameters"].get("logGroupName") for r in records if r["eventName"] == "CreateLogGroup"])


class AdvancedSelectors(TrailTestCase):
    """Advanced event selectors on a trail: management writes only, and S3 object data events
    under one prefix; GetEventSelectors shows them in place of the basic ones."""

    SELECTORS = [
        {"Name": "management writes", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["false"]}]},
        {"Name": "watched objects", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::watched-bucket/logs/"]}]},
    ]

    def test_selectors_choose_what_is_delivered(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        self.s3.create_bucket(Bucket="watched-bucket")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        put = self.ct.put_event_selectors(TrailName="main", AdvancedEventSelectors=self.SELECTORS)
        self.assertEqual(put["AdvancedEventSelectors"], self.SELECTORS)
        got = self.ct.get_event_selectors(TrailName="main")
        self.assertEqual(got["AdvancedEventSelectors"], self.SELECTORS)
        self.assertNotIn("EventSelectors", got)
        self.assertTrue(self.ct.get_trail(Name="main")["Trail"]["HasCustomEventSelectors"])
        self.ct.start_logging(Name="main")
        self.logs.create_log_group(logGroupName="/written")
        self.logs.describe_log_groups()  # a read: not logged
        self.s3.put_object(Bucket="watched-bucket", Key="logs/a.txt", Body=b"a")
        self.s3.put_object(Bucket="watched-bucket", Key="other/b.txt", Body=b"b")
        self.logs.create_log_group(logGroupName="/last")
        _, records = self.wait_for_records("trail-bucket", "CreateLogGroup")
        deadline = time.time() + 15
        while "/last" not in [r.get("requestParameters", {}).get("logGroupName") for r in records] and time.time() < deadline:
            time.sleep(0.25)
            _, records = self.delivered_records("trail-bucket")
        names = sorted((r["eventName"], (r.get("requestParameters") or {}).get("logGroupName") or (r.get("requestParameters") or {}).get("key", ""))
                       for r in records if r["eventSource"] in ("logs.amazonaws.com", "s3.amazonaws.com"))
        self.assertEqual(names, [("CreateLogGroup", "/last"), ("CreateLogGroup", "/written"), ("PutObject", "logs/a.txt")])
        put = [r for r in records if r["eventName"] == "PutObject"][0]
        # S3 records name the bucket and key as AWS's do, and leave out bodies, checksums and lengths.
        self.assertEqual(put["requestParameters"], {"bucketName": "watched-bucket", "key": "logs/a.txt"})
        self.assertIn({"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::watched-bucket"}, put["resources"])
        self.assertNotIn("GetTrailStatus", [r["eventName"] for r in records])  # reads are not selected
        for r in records:
            self.assertFalse(r["readOnly"], r["eventName"])

        # Basic selectors replace them again.
        self.ct.put_event_selectors(TrailName="main", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
        got = self.ct.get_event_selectors(TrailName="main")
        self.assertNotIn("AdvancedEventSelectors", got)
        self.assertEqual(got["EventSelectors"][0]["ReadWriteType"], "All")

    def test_errors(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        cases = [
            ([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                  {"Field": "eventName", "Equals": ["CreateLogGroup"]}]}], "InvalidEventSelectorsException"),
            ([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                  {"Field": "eventName", "Equals": ["PutObject"]}]}], "InvalidEventSelectorsException"),
            ([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["NetworkActivity"]}]}], "UnsupportedOperationException"),
        ]
        for selectors, code in cases:
            with self.assertRaises(ClientError) as ctx:
                self.ct.put_event_selectors(TrailName="main", AdvancedEventSelectors=selectors)
            self.assertEqual(error_code(ctx), code, selectors)
        with self.assertRaises(ClientError) as ctx:
            self.ct.put_event_selectors(TrailName="main", AdvancedEventSelectors=self.SELECTORS,
                                        EventSelectors=[{"ReadWriteType": "All"}])
        self.assertEqual(error_code(ctx), "InvalidParameterCombinationException")
        self.assertIn("EventSelectors", self.ct.get_event_selectors(TrailName="main"))

    def test_cli(self):
        self.s3.create_bucket(Bucket="trail-bucket")
        allow_cloudtrail(self.s3, "trail-bucket")
        self.ct.create_trail(Name="main", S3BucketName="trail-bucket")
        self.server.cli("cloudtrail", "put-event-selectors", "--trail-name", "main",
                        "--advanced-event-selectors", json.dumps(self.SELECTORS))
        got = self.server.cli_json("cloudtrail", "get-event-selectors", "--trail-name", "main")
        self.assertEqual(got["AdvancedEventSelectors"], self.SELECTORS)


class Cli(TrailTestCase):
    def test_cli_trail_and_delivery(self):
        self.server.cli("s3api", "create-bucket", "--bucket", "cli-trail-bucket")
        self.server.cli("s3api", "put-bucket-policy", "--bucket", "cli-trail-bucket",
                        "--policy", json.dumps(cloudtrail_bucket_policy("cli-trail-bucket")))
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
            allow_cloudtrail(s3, "durable-bucket")
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
