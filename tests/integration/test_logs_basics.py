"""CloudWatch Logs basics through boto3 and the AWS CLI."""
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, now_ms


class LogGroupsAndStreams(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")

    def test_create_describe_delete_group(self):
        self.logs.create_log_group(logGroupName="/app/web", tags={"team": "a"})
        self.logs.create_log_group(logGroupName="/app/worker")
        self.logs.create_log_group(logGroupName="/other")
        names = [g["logGroupName"] for g in self.logs.describe_log_groups(logGroupNamePrefix="/app")["logGroups"]]
        self.assertEqual(names, ["/app/web", "/app/worker"])
        names = [g["logGroupName"] for g in self.logs.describe_log_groups(logGroupNamePattern="work")["logGroups"]]
        self.assertEqual(names, ["/app/worker"])
        # AWS: "a case-sensitive substring search".
        self.assertEqual(self.logs.describe_log_groups(logGroupNamePattern="WORK")["logGroups"], [])
        group = self.logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]
        self.assertEqual(group["arn"], "arn:aws:logs:us-east-1:000000000000:log-group:/app/web:*")
        if "logGroupArn" in group:  # older botocore models do not know the member
            self.assertEqual(group["logGroupArn"], "arn:aws:logs:us-east-1:000000000000:log-group:/app/web")
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_group(logGroupName="/app/web")
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceAlreadyExistsException")
        self.logs.delete_log_group(logGroupName="/app/web")
        with self.assertRaises(ClientError) as e:
            self.logs.delete_log_group(logGroupName="/app/web")
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_describe_log_groups_paginates(self):
        for i in range(7):
            self.logs.create_log_group(logGroupName="g%02d" % i)
        seen = []
        for page in self.logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 3}):
            self.assertLessEqual(len(page["logGroups"]), 3)
            seen += [g["logGroupName"] for g in page["logGroups"]]
        self.assertEqual(seen, ["g%02d" % i for i in range(7)])

    def test_put_and_get_events(self):
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        t = now_ms()
        events = [{"timestamp": t + i, "message": "line %d" % i} for i in range(5)]
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        got = self.logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)
        self.assertEqual([e["message"] for e in got["events"]], ["line %d" % i for i in range(5)])
        again = self.logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=got["nextForwardToken"])
        self.assertEqual(again["events"], [])
        self.assertEqual(again["nextForwardToken"], got["nextForwardToken"])

    def test_filter_pattern(self):
        self.logs.create_log_group(logGroupName="g")
        for s in ("a", "b"):
            self.logs.create_log_stream(logGroupName="g", logStreamName=s)
        t = now_ms()
        self.logs.put_log_events(logGroupName="g", logStreamName="a", logEvents=[
            {"timestamp": t, "message": "ERROR disk full"}, {"timestamp": t + 2, "message": "INFO ok"}])
        self.logs.put_log_events(logGroupName="g", logStreamName="b", logEvents=[
            {"timestamp": t + 1, "message": '{"level":"error","code":500}'}])
        got = self.logs.filter_log_events(logGroupName="g", filterPattern="ERROR")
        self.assertEqual([e["message"] for e in got["events"]], ["ERROR disk full"])
        got = self.logs.filter_log_events(logGroupName="g", filterPattern="{ $.code >= 500 }")
        self.assertEqual([e["logStreamName"] for e in got["events"]], ["b"])
        got = self.logs.filter_log_events(logGroupName="g")
        self.assertEqual([e["message"][:5] for e in got["events"]], ["ERROR", '{"lev', "INFO "])

    def test_cli_roundtrip(self):
        self.server.cli("logs", "create-log-group", "--log-group-name", "/cli")
        self.server.cli("logs", "create-log-stream", "--log-group-name", "/cli", "--log-stream-name", "s")
        self.server.cli("logs", "put-log-events", "--log-group-name", "/cli", "--log-stream-name", "s",
                        "--log-events", "timestamp=%d,message=hello" % now_ms())
        out = self.server.cli_json("logs", "get-log-events", "--log-group-name", "/cli", "--log-stream-name", "s")
        self.assertEqual([e["message"] for e in out["events"]], ["hello"])
        failed = self.server.cli("logs", "describe-log-streams", "--log-group-name", "/missing", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("ResourceNotFoundException", failed.stderr)


if __name__ == "__main__":
    unittest.main()
