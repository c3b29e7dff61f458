"""Every API call becomes a CloudTrail record; LookupEvents finds it by every attribute."""
import datetime
import json
import time
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase

RECORD_FIELDS = ["eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                 "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "eventType",
                 "managementEvent", "recipientAccountId", "eventCategory"]


class LookupEvents(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")
        self.trail = self.server.client("cloudtrail")
        self.logs.create_log_group(logGroupName="/audit/a")
        self.logs.create_log_stream(logGroupName="/audit/a", logStreamName="s")
        self.logs.describe_log_groups()
        try:
            self.logs.delete_log_group(logGroupName="/audit/missing")
        except ClientError:
            pass

    def lookup(self, key=None, value=None, **kwargs):
        if key:
            kwargs["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
        return self.trail.lookup_events(**kwargs)["Events"]

    def test_record_format(self):
        events = self.lookup("EventName", "CreateLogGroup")
        self.assertEqual(len(events), 1)
        event = events[0]
        self.assertEqual(event["EventSource"], "logs.amazonaws.com")
        self.assertEqual(event["ReadOnly"], "false")
        self.assertEqual(event["Username"], "root")
        self.assertEqual(event["AccessKeyId"], "test")
        self.assertEqual(event["Resources"], [{"ResourceType": "AWS::Logs::LogGroup", "ResourceName": "/audit/a"}])
        record = json.loads(event["CloudTrailEvent"])
        for field in RECORD_FIELDS:
            self.assertIn(field, record)
        self.assertEqual(record["eventID"], event["EventId"])
        self.assertEqual(record["requestParameters"], {"logGroupName": "/audit/a"})
        self.assertIsNone(record["responseElements"])
        self.assertEqual(record["userIdentity"]["type"], "Root")
        self.assertEqual(record["userIdentity"]["arn"], "arn:aws:iam::000000000000:root")
        self.assertEqual(record["eventType"], "AwsApiCall")
        self.assertTrue(record["managementEvent"])
        self.assertEqual(record["eventCategory"], "Management")
        self.assertEqual(record["recipientAccountId"], "000000000000")
        self.assertEqual(record["sourceIPAddress"], "127.0.0.1")
        self.assertRegex(record["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_failed_calls_carry_error_code(self):
        record = json.loads(self.lookup("EventName", "DeleteLogGroup")[0]["CloudTrailEvent"])
        self.assertEqual(record["errorCode"], "ResourceNotFoundException")
        self.assertEqual(record["errorMessage"], "The specified log group does not exist.")

    def test_every_lookup_attribute(self):
        create = self.lookup("EventName", "CreateLogGroup")[0]
        self.assertEqual([e["EventId"] for e in self.lookup("EventId", create["EventId"])], [create["EventId"]])
        self.assertTrue(all(e["ReadOnly"] == "true" for e in self.lookup("ReadOnly", "true")))
        self.assertIn("DescribeLogGroups", [e["EventName"] for e in self.lookup("ReadOnly", "true")])
        self.assertNotIn("DescribeLogGroups", [e["EventName"] for e in self.lookup("ReadOnly", "false")])
        self.assertGreaterEqual(len(self.lookup("Username", "root")), 4)
        self.assertEqual({e["EventName"] for e in self.lookup("ResourceName", "/audit/a")}, {"CreateLogGroup", "CreateLogStream"})
        self.assertGreaterEqual(len(self.lookup("ResourceType", "AWS::Logs::LogGroup")), 2)
        self.assertGreaterEqual(len(self.lookup("EventSource", "logs.amazonaws.com")), 4)
        self.assertGreaterEqual(len(self.lookup("AccessKeyId", "test")), 4)
        self.assertEqual(self.lookup("EventName", "NoSuchCall"), [])

    def test_newest_first_time_range_and_pages(self):
        for i in range(7):
            self.logs.create_log_group(logGroupName="/page/%d" % i)
        events = []
        kwargs = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateLogGroup"}], "MaxResults": 3}
        while True:
            page = self.trail.lookup_events(**kwargs)
            self.assertLessEqual(len(page["Events"]), 3)
            events += page["Events"]
            if "NextToken" not in page:
                break
            kwargs["NextToken"] = page["NextToken"]
        names = [json.loads(e["CloudTrailEvent"])["requestParameters"]["logGroupName"] for e in events]
        self.assertEqual(names[:7], ["/page/%d" % i for i in reversed(range(7))])
        self.assertEqual(len(names), 8)
        times = [e["EventTime"] for e in events]
        self.assertEqual(times, sorted(times, reverse=True))
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        self.assertEqual(self.lookup(StartTime=future, EndTime=future + datetime.timedelta(hours=1)), [])

    def test_data_events_are_not_in_event_history(self):
        self.logs.put_log_events(logGroupName="/audit/a", logStreamName="s",
                                 logEvents=[{"timestamp": int(time.time() * 1000), "message": "x"}])
        self.logs.filter_log_events(logGroupName="/audit/a")
        self.assertEqual(self.lookup("EventName", "PutLogEvents"), [])
        self.assertEqual(self.lookup("EventName", "FilterLogEvents"), [])

    def test_bad_lookup_requests(self):
        for kwargs, code in [
            ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"},
                                   {"AttributeKey": "Username", "AttributeValue": "b"}]}, "InvalidLookupAttributesException"),
            ({"StartTime": datetime.datetime(2026, 1, 2), "EndTime": datetime.datetime(2026, 1, 1)}, "InvalidTimeRangeException"),
            ({"NextToken": "garbage!"}, "InvalidNextTokenException"),
        ]:
            with self.assertRaises(ClientError) as e:
                self.trail.lookup_events(**kwargs)
            self.assertEqual(e.exception.response["Error"]["Code"], code)

    def test_cli_lookup(self):
        out = self.server.cli_json("cloudtrail", "lookup-events", "--lookup-attributes",
                                   "AttributeKey=EventName,AttributeValue=CreateLogStream")
        self.assertEqual([e["EventName"] for e in out["Events"]], ["CreateLogStream"])



class RecorderOff(ServerTestCase):
    """record_api_calls = false: calls are served, and no CloudTrail event is recorded."""
    server_config = "record_api_calls = false\n"

    def test_nothing_is_recorded(self):
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/quiet")
        self.assertEqual([g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]], ["/quiet"])
        self.assertEqual(self.server.client("cloudtrail").lookup_events()["Events"], [])


if __name__ == "__main__":
    unittest.main()
