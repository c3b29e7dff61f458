"""CloudTrail Insights: Put/GetInsightSelectors on a trail, then a baseline of calls and a
burst that produce a Start/End pair of Insights events, delivered under the trail's
CloudTrail-Insight/ prefix and returned by LookupEvents EventCategory=insight and by the trail's
ListInsightsData. The server counts
per 2-second period with a 60-second baseline and 6 seconds of learning (the flags), so the
whole story takes about 25 seconds instead of days."""
import datetime
import gzip
import json
import re
import time
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, allow_cloudtrail

PATH_STYLE = {"s3": {"addressing_style": "path"}}
ACCOUNT = "000000000000"
INSIGHT_KEY_RE = re.compile(r"^audit/AWSLogs/000000000000/CloudTrail-Insight/us-east-1/\d{4}/\d{2}/\d{2}/"
                            r"000000000000_CloudTrail-Insight_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
PERIOD = 2


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


class Insights(ServerTestCase):
    server_args = ("--trail-delivery-interval", "1", "--insights-period", str(PERIOD),
                   "--insights-baseline", "60", "--insights-min-history", "6")

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3", **PATH_STYLE)
        self.ct = self.server.client("cloudtrail")
        self.logs = self.server.client("logs")
        self.s3.create_bucket(Bucket="insights-bucket")
        allow_cloudtrail(self.s3, "insights-bucket", prefix="audit")

    def trail(self, name):
        self.ct.create_trail(Name=name, S3BucketName="insights-bucket", S3KeyPrefix="audit")
        return "arn:aws:cloudtrail:us-east-1:%s:trail/%s" % (ACCOUNT, name)

    def test_selectors(self):
        arn = self.trail("plain")
        with self.assertRaises(ClientError) as ctx:
            self.ct.get_insight_selectors(TrailName="plain")
        self.assertEqual(error_code(ctx), "InsightNotEnabledException")
        self.assertFalse(self.ct.get_trail(Name="plain")["Trail"]["HasInsightSelectors"])
        with self.assertRaises(ClientError) as ctx:
            self.ct.put_insight_selectors(TrailName="nope", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
        self.assertEqual(error_code(ctx), "TrailNotFoundException")
        with self.assertRaises(ClientError) as ctx:
            self.ct.put_insight_selectors(TrailName="plain", InsightSelectors=[{"InsightType": "ApiCallRateInsight"},
                                                                               {"InsightType": "ApiCallRateInsight"}])
        self.assertEqual(error_code(ctx), "InvalidInsightSelectorsException")
        # The call rate needs write management events in the trail.
        self.ct.put_event_selectors(TrailName="plain", EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])
        with self.assertRaises(ClientError) as ctx:
            self.ct.put_insight_selectors(TrailName="plain", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
        self.assertEqual(error_code(ctx), "InvalidInsightSelectorsException")
        self.ct.put_event_selectors(TrailName="plain", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])

        out = self.ct.put_insight_selectors(TrailName=arn, InsightSelectors=[{"InsightType": "ApiCallRateInsight"},
                                                                              {"InsightType": "ApiErrorRateInsight"}])
        self.assertEqual(out["TrailARN"], arn)
        got = self.ct.get_insight_selectors(TrailName="plain")
        self.assertEqual([s["InsightType"] for s in got["InsightSelectors"]], ["ApiCallRateInsight", "ApiErrorRateInsight"])
        self.assertTrue(self.ct.get_trail(Name="plain")["Trail"]["HasInsightSelectors"])
        self.assertTrue(self.ct.describe_trails(trailNameList=["plain"])["trailList"][0]["HasInsightSelectors"])
        cli = self.server.cli_json("cloudtrail", "get-insight-selectors", "--trail-name", "plain")
        self.assertEqual(cli["TrailARN"], arn)
        self.assertEqual(len(cli["InsightSelectors"]), 2)
        # An empty list turns Insights off.
        self.ct.put_insight_selectors(TrailName="plain", InsightSelectors=[])
        self.assertFalse(self.ct.get_trail(Name="plain")["Trail"]["HasInsightSelectors"])

    def calls_for(self, seconds, per_second=1):
        end = time.time() + seconds
        while time.time() < end:
            for _ in range(per_second):
                self.logs.put_retention_policy(logGroupName="/insights", retentionInDays=7)
            time.sleep(1.0 / per_second)

    def insight_records(self):
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="insights-bucket",
                                                         Prefix="audit/AWSLogs/%s/CloudTrail-Insight/" % ACCOUNT).get("Contents", [])]
        records = []
        for key in keys:
            self.assertRegex(key, INSIGHT_KEY_RE)
            body = self.s3.get_object(Bucket="insights-bucket", Key=key)["Body"].read()
            records.extend(json.loads(gzip.decompress(body))["Records"])
        # Files of the same minute list in random-suffix order: order the events by time.
        return sorted(records, key=lambda r: (r["eventTime"], r["insightDetails"]["state"] == "End"))

    def test_list_insights_metric_data(self):
        if "ListInsightsMetricData" not in self.ct.meta.service_model.operation_names:
            self.skipTest("this botocore predates ListInsightsMetricData")
        self.trail("metrics")
        self.ct.start_logging(Name="metrics")
        self.ct.put_insight_selectors(TrailName="metrics", InsightSelectors=[{"InsightType": "ApiCallRateInsight"},
                                                                             {"InsightType": "ApiErrorRateInsight"}])
        self.logs.create_log_group(logGroupName="/metrics")
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        for _ in range(12):
            self.logs.put_retention_policy(logGroupName="/metrics", retentionInDays=7)
        for _ in range(4):
            with self.assertRaises(ClientError):
                self.logs.delete_log_group(logGroupName="/missing")
        common = {"EventSource": "logs.amazonaws.com", "StartTime": since, "Period": 60}
        # The counts are stored when their (2-second) period closes.
        deadline = time.time() + 30
        while True:
            rate = self.ct.list_insights_metric_data(EventName="PutRetentionPolicy", InsightType="ApiCallRateInsight", **common)
            errors = self.ct.list_insights_metric_data(EventName="DeleteLogGroup", InsightType="ApiErrorRateInsight",
                                                       ErrorCode="ResourceNotFoundException", **common)
            if (sum(rate["Values"]), sum(errors["Values"])) == (12, 4) or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(sum(rate["Values"]), 12)
        self.assertEqual(sum(errors["Values"]), 4)
        self.assertEqual(len(rate["Timestamps"]), len(rate["Values"]))
        self.assertTrue(all(v > 0 for v in rate["Values"]))  # NonZeroData, the default
        for t in rate["Timestamps"]:
            self.assertEqual(t.timestamp() % 60, 0)
        self.assertEqual(errors["ErrorCode"], "ResourceNotFoundException")
        filled = self.ct.list_insights_metric_data(EventName="PutRetentionPolicy", InsightType="ApiCallRateInsight",
                                                   DataType="FillWithZeros", **common)
        self.assertGreaterEqual(len(filled["Values"]), 5)
        self.assertEqual(sum(filled["Values"]), 12)
        # AWS's errors.
        for bad in ({"Period": 120}, {"InsightType": "ApiErrorRateInsight"}, {"TrailName": "metrics"}):
            request = dict(common, EventName="PutRetentionPolicy", InsightType="ApiCallRateInsight")
            request.update(bad)
            with self.assertRaises(ClientError) as ctx:
                self.ct.list_insights_metric_data(**request)
            self.assertEqual(error_code(ctx), "UnsupportedOperationException" if "TrailName" in bad else "InvalidParameterException")

    def test_list_insights_data(self):
        if "ListInsightsData" not in self.ct.meta.service_model.operation_names:
            self.skipTest("this botocore predates ListInsightsData")
        arn = self.trail("listed")
        other = self.trail("other")
        for name in ("listed", "other"):
            self.ct.start_logging(Name=name)
        # Only "listed" selects Insights: "other" logs the same calls but takes no Insights events.
        self.ct.put_insight_selectors(TrailName="listed", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
        self.logs.create_log_group(logGroupName="/insights")
        self.calls_for(10)
        for _ in range(60):
            self.logs.put_retention_policy(logGroupName="/insights", retentionInDays=7)
        self.calls_for(3 * PERIOD)
        # A trail's events are listed as soon as the detector reports them (before delivery).
        deadline = time.time() + 30
        while True:
            events = self.ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents")["Events"]
            states = [json.loads(e["CloudTrailEvent"])["insightDetails"]["state"] for e in events]
            if (states and states[0] == "End") or time.time() > deadline:
                break
            time.sleep(0.5)
        # Newest first; a slow machine may split the burst into several Start/End pairs.
        self.assertTrue(states)
        self.assertEqual(states, ["End", "Start"] * (len(states) // 2), events)
        times = [e["EventTime"] for e in events]
        self.assertEqual(times, sorted(times, reverse=True))
        ids = [e["EventId"] for e in events]
        for e in events:
            record = json.loads(e["CloudTrailEvent"])
            self.assertEqual(e["EventId"], record["eventID"])
            self.assertEqual(e["EventName"], "PutRetentionPolicy")
            self.assertEqual(e["EventSource"], "logs.amazonaws.com")
            self.assertEqual(record["eventType"], "AwsCloudTrailInsight")
            self.assertEqual(record["insightDetails"]["insightType"], "ApiCallRateInsight")
        # The same events LookupEvents shows for the account (only this trail selects Insights).
        looked_up = self.ct.lookup_events(EventCategory="insight")["Events"]
        self.assertEqual([e["EventId"] for e in looked_up], ids)
        self.assertEqual(self.ct.list_insights_data(InsightSource=other, DataType="InsightsEvents")["Events"], [])

        def listed(**kwargs):
            return [e["EventId"] for e in self.ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", **kwargs)["Events"]]
        self.assertEqual(listed(Dimensions={"EventName": "PutRetentionPolicy"}), ids)
        self.assertEqual(listed(Dimensions={"EventSource": "logs.amazonaws.com"}), ids)
        self.assertEqual(listed(Dimensions={"EventId": ids[-1]}), [ids[-1]])
        self.assertEqual(listed(Dimensions={"EventName": "DeleteLogGroup"}), [])
        self.assertEqual(listed(StartTime=events[0]["EventTime"]), [e["EventId"] for e in events if e["EventTime"] >= events[0]["EventTime"]])
        self.assertEqual(listed(EndTime=events[-1]["EventTime"] - datetime.timedelta(seconds=1)), [])
        # Pages: the paginator follows NextToken; a token only works with its own parameters.
        pages = self.ct.get_paginator("list_insights_data").paginate(InsightSource=arn, DataType="InsightsEvents",
                                                                     PaginationConfig={"PageSize": 1})
        self.assertEqual([e["EventId"] for page in pages for e in page["Events"]], ids)
        first = self.ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", MaxResults=1)
        self.assertEqual(len(first["Events"]), 1)
        self.assertIn("NextToken", first)
        with self.assertRaises(ClientError) as ctx:
            self.ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", MaxResults=1, NextToken=first["NextToken"],
                                       Dimensions={"EventName": "PutRetentionPolicy"})
        self.assertEqual(error_code(ctx), "InvalidParameterException")
        # AWS's errors (the operation documents InvalidParameterException,
        # OperationNotPermittedException and UnsupportedOperationException).
        now = datetime.datetime.now(datetime.timezone.utc)
        for bad in ({"InsightSource": "arn:aws:cloudtrail:us-east-1:%s:trail/missing" % ACCOUNT},
                    {"InsightSource": "listed"},
                    {"DataType": "ManagementEvents"},
                    {"Dimensions": {"Username": "root"}},
                    {"StartTime": now, "EndTime": now - datetime.timedelta(hours=1)}):
            request = dict(InsightSource=arn, DataType="InsightsEvents")
            request.update(bad)
            with self.assertRaises(ClientError) as ctx:
                self.ct.list_insights_data(**request)
            self.assertEqual(error_code(ctx), "InvalidParameterException", bad)
        with self.assertRaises(ClientError) as ctx:
            self.ct.list_insights_data(InsightSource="arn:aws:cloudtrail:us-east-1:%s:eventdatastore/0123456789ab" % ACCOUNT,
                                       DataType="InsightsEvents")
        self.assertEqual(error_code(ctx), "UnsupportedOperationException")

        # The AWS CLI, when it knows the operation.
        result = self.server.cli("cloudtrail", "list-insights-data", "--insight-source", arn, "--data-type", "InsightsEvents", check=False)
        if result.returncode != 0 and "Invalid choice" in result.stderr:
            self.skipTest("this AWS CLI predates list-insights-data (boto3's checks above passed)")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([e["EventId"] for e in json.loads(result.stdout)["Events"]], ids)

    def test_burst_produces_start_and_end(self):
        self.trail("watch")
        # The trail also copies its events to CloudWatch Logs: Insights events included, as AWS documents.
        self.logs.create_log_group(logGroupName="/trail-copy")
        self.ct.update_trail(Name="watch", CloudWatchLogsRoleArn="arn:aws:iam::%s:role/CloudTrail_CloudWatchLogs_Role" % ACCOUNT,
                             CloudWatchLogsLogGroupArn="arn:aws:logs:us-east-1:%s:log-group:/trail-copy:*" % ACCOUNT)
        self.ct.start_logging(Name="watch")
        self.ct.put_insight_selectors(TrailName="watch", InsightSelectors=[{"InsightType": "ApiCallRateInsight"},
                                                                           {"InsightType": "ApiErrorRateInsight"}])
        self.logs.create_log_group(logGroupName="/insights")
        # Baseline: about one call a second (two a period), past the 6 s of learning.
        self.calls_for(10)
        # The burst: 60 writes and 30 failing deletes within a second.
        for _ in range(60):
            self.logs.put_retention_policy(logGroupName="/insights", retentionInDays=7)
        for _ in range(30):
            with self.assertRaises(ClientError):
                self.logs.delete_log_group(logGroupName="/missing")
        # Back to normal, then wait for the End to be delivered.
        self.calls_for(3 * PERIOD)
        # On a slow machine (sanitizers, parallel tests) the burst may straddle periods and a
        # slow one in its middle may end the insight early: then Start/End pairs repeat.
        deadline = time.time() + 30
        while True:
            records = self.insight_records()
            retention = [r for r in records if r["insightDetails"]["eventName"] == "PutRetentionPolicy"]
            states = [r["insightDetails"]["state"] for r in retention]
            if (states and states[-1] == "End") or time.time() > deadline:
                break
            time.sleep(0.5)

        self.assertTrue(states, records)
        self.assertEqual(states, ["Start", "End"] * (len(states) // 2), records)
        start, end = retention[0], retention[1]
        self.assertEqual(start["sharedEventID"], end["sharedEventID"])
        for r in (start, end):
            self.assertEqual(r["eventType"], "AwsCloudTrailInsight")
            self.assertEqual(r["eventCategory"], "Insight")
            self.assertEqual(r["awsRegion"], "us-east-1")
            self.assertEqual(r["recipientAccountId"], ACCOUNT)
            d = r["insightDetails"]
            self.assertEqual(d["eventSource"], "logs.amazonaws.com")
            self.assertEqual(d["insightType"], "ApiCallRateInsight")
            stats = d["insightContext"]["statistics"]
            self.assertLess(stats["baseline"]["average"], 5)
            self.assertGreater(stats["insight"]["average"], stats["baseline"]["average"] + 10)
            self.assertGreaterEqual(stats["baselineDuration"], 3)
            attributes = [a["attribute"] for a in d["insightContext"]["attributions"]]
            self.assertEqual(attributes, ["userIdentityArn", "userAgent", "errorCode"])
        self.assertLessEqual(start["eventTime"], end["eventTime"])
        self.assertGreaterEqual(end["insightDetails"]["insightContext"]["statistics"]["insightDuration"], 1)
        errors = [r for r in records if r["insightDetails"]["insightType"] == "ApiErrorRateInsight"]
        self.assertIn("Start", [r["insightDetails"]["state"] for r in errors])
        self.assertEqual({r["insightDetails"].get("errorCode") for r in errors}, {"ResourceNotFoundException"})
        self.assertEqual({r["insightDetails"]["eventName"] for r in errors}, {"DeleteLogGroup"})

        # LookupEvents shows them with EventCategory=insight only.
        found = self.ct.lookup_events(EventCategory="insight",
                                      LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutRetentionPolicy"}])["Events"]
        found_states = [json.loads(e["CloudTrailEvent"])["insightDetails"]["state"] for e in found]
        self.assertEqual(found_states, list(reversed(states)))  # newest first
        self.assertEqual(found[0]["EventSource"], "logs.amazonaws.com")
        self.assertEqual({json.loads(e["CloudTrailEvent"])["sharedEventID"] for e in found},
                         {r["sharedEventID"] for r in retention})
        plain = self.ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutRetentionPolicy"}],
                                      MaxResults=50)["Events"]
        self.assertTrue(plain)
        self.assertTrue(all("AwsCloudTrailInsight" not in e["CloudTrailEvent"] for e in plain))

        # The log group holds the same Insights events (delivered with the files), in the region's stream.
        copied = self.logs.filter_log_events(logGroupName="/trail-copy", filterPattern='"AwsCloudTrailInsight"')["events"]
        self.assertEqual({e["logStreamName"] for e in copied}, {"%s_CloudTrail_us-east-1" % ACCOUNT})
        copied_ids = {json.loads(e["message"])["eventID"] for e in copied}
        # (Files and log events are written in the same delivery pass: an Insight that ended since
        # `records` was read may be in both by now.)
        self.assertLessEqual({r["eventID"] for r in records}, copied_ids)
        self.assertLessEqual(copied_ids, {e["EventId"] for e in self.ct.lookup_events(EventCategory="insight")["Events"]})


if __name__ == "__main__":
    unittest.main()
