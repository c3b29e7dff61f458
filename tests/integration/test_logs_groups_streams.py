"""CloudWatch Logs log groups and log streams: lifecycle, listing, ordering, pagination and
AWS's errors, through boto3 and the AWS CLI."""
import unittest

from botocore.exceptions import ClientError

from vigil_testing import REGION, ServerTestCase, now_ms

ACCOUNT = "000000000000"
GROUP_MISSING = "The specified log group does not exist."


def group_arn(name):
    return "arn:aws:logs:%s:%s:log-group:%s" % (REGION, ACCOUNT, name)


def identifier_usable(client, operation):
    """Whether this botocore lets a request name its log group by logGroupIdentifier alone
    (older models still require logGroupName)."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return "logGroupIdentifier" in shape.members and "logGroupName" not in shape.required_members


class LogsTestCase(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")

    def assertError(self, ctx, code, message=None):
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        if message is not None:
            self.assertEqual(error["Message"], message)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)


class LogGroups(LogsTestCase):
    def test_create_describe_delete(self):
        before = now_ms()
        self.logs.create_log_group(logGroupName="/app/web")
        group = self.logs.describe_log_groups()["logGroups"][0]
        self.assertEqual(group["logGroupName"], "/app/web")
        self.assertEqual(group["arn"], group_arn("/app/web") + ":*")
        self.assertGreaterEqual(group["creationTime"], before - 1000)
        self.assertLessEqual(group["creationTime"], now_ms() + 1000)
        self.assertEqual(group["metricFilterCount"], 0)
        self.assertEqual(group["storedBytes"], 0)
        self.assertNotIn("retentionInDays", group)  # never expire: the member is absent
        if "logGroupArn" in group:
            self.assertEqual(group["logGroupArn"], group_arn("/app/web"))
        if "logGroupClass" in group:
            self.assertEqual(group["logGroupClass"], "STANDARD")

        with self.assertRaises(ClientError) as e:
            self.logs.create_log_group(logGroupName="/app/web")
        self.assertError(e, "ResourceAlreadyExistsException", "The specified log group already exists")

        self.logs.delete_log_group(logGroupName="/app/web")
        self.assertEqual(self.logs.describe_log_groups()["logGroups"], [])
        with self.assertRaises(ClientError) as e:
            self.logs.delete_log_group(logGroupName="/app/web")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        # The name is free again, and the new group starts empty.
        self.logs.create_log_group(logGroupName="/app/web")
        self.assertEqual(self.logs.describe_log_streams(logGroupName="/app/web")["logStreams"], [])

    def test_deleting_a_group_deletes_its_streams_and_events(self):
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "old life"}])
        self.logs.delete_log_group(logGroupName="g")
        with self.assertRaises(ClientError) as e:
            self.logs.get_log_events(logGroupName="g", logStreamName="s")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        self.assertEqual(self.logs.get_log_events(logGroupName="g", logStreamName="s")["events"], [])
        self.assertEqual(self.logs.filter_log_events(logGroupName="g")["events"], [])

    def test_name_validation(self):
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_group(logGroupName="has space")
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value 'has space' at 'logGroupName' failed to satisfy constraint: "
                         "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
        long_name = "a" * 513
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_group(logGroupName=long_name)
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: "
                         "Member must have length less than or equal to 512" % long_name)
        # Every allowed character, at the maximum length.
        name = ("._-/#Az09" * 60)[:512]
        self.logs.create_log_group(logGroupName=name)
        self.assertEqual([g["logGroupName"] for g in self.logs.describe_log_groups()["logGroups"]], [name])

    def test_prefix_and_pattern(self):
        for name in ["/aws/lambda/Alpha", "/aws/lambda/beta", "/app/DataLogs", "aws/DataLogs", "GroupDataLogs", "datalogs"]:
            self.logs.create_log_group(logGroupName=name)
        names = lambda **kw: [g["logGroupName"] for g in self.logs.describe_log_groups(**kw)["logGroups"]]
        # Results are ASCII-sorted by name.
        self.assertEqual(names(), ["/app/DataLogs", "/aws/lambda/Alpha", "/aws/lambda/beta", "GroupDataLogs", "aws/DataLogs", "datalogs"])
        self.assertEqual(names(logGroupNamePrefix="/aws/lambda/"), ["/aws/lambda/Alpha", "/aws/lambda/beta"])
        self.assertEqual(names(logGroupNamePrefix="/aws/lambda/b"), ["/aws/lambda/beta"])
        self.assertEqual(names(logGroupNamePrefix="/nothing"), [])
        # The pattern is a case-sensitive substring match (AWS's own example).
        self.assertEqual(names(logGroupNamePattern="DataLogs"), ["/app/DataLogs", "GroupDataLogs", "aws/DataLogs"])
        self.assertEqual(names(logGroupNamePattern="lambda"), ["/aws/lambda/Alpha", "/aws/lambda/beta"])
        # With a pattern, only arn, creationTime and logGroupName are returned.
        group = self.logs.describe_log_groups(logGroupNamePattern="datalogs")["logGroups"]
        self.assertEqual(len(group), 1)
        self.assertEqual(set(group[0]), {"logGroupName", "arn", "creationTime"})

        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_groups(logGroupNamePrefix="/aws", logGroupNamePattern="lambda")
        self.assertError(e, "InvalidParameterException")

    def test_pagination_and_limit(self):
        names = ["g%03d" % i for i in range(57)]
        for name in reversed(names):
            self.logs.create_log_group(logGroupName=name)
        # The default page is 50 groups.
        first = self.logs.describe_log_groups()
        self.assertEqual([g["logGroupName"] for g in first["logGroups"]], names[:50])
        rest = self.logs.describe_log_groups(nextToken=first["nextToken"])
        self.assertEqual([g["logGroupName"] for g in rest["logGroups"]], names[50:])
        self.assertNotIn("nextToken", rest)

        seen, pages = [], 0
        for page in self.logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 7}):
            self.assertLessEqual(len(page["logGroups"]), 7)
            seen += [g["logGroupName"] for g in page["logGroups"]]
            pages += 1
        self.assertEqual(seen, names)
        self.assertEqual(pages, 9)

        # A prefix pages too, and a group created behind the cursor does not shift the pages.
        page = self.logs.describe_log_groups(logGroupNamePrefix="g01", limit=4)
        self.assertEqual([g["logGroupName"] for g in page["logGroups"]], ["g010", "g011", "g012", "g013"])
        self.logs.create_log_group(logGroupName="g0105")
        page = self.logs.describe_log_groups(logGroupNamePrefix="g01", limit=4, nextToken=page["nextToken"])
        self.assertEqual([g["logGroupName"] for g in page["logGroups"]], ["g014", "g015", "g016", "g017"])

        for bad in (51, 1000):
            with self.assertRaises(ClientError) as e:
                self.logs.describe_log_groups(limit=bad)
            self.assertError(e, "InvalidParameterException",
                             "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: "
                             "Member must have value less than or equal to 50" % bad)

    def test_cli_lists_every_group_across_pages(self):
        for i in range(12):
            self.server.cli("logs", "create-log-group", "--log-group-name", "/cli/%02d" % i)
        out = self.server.cli_json("logs", "describe-log-groups", "--log-group-name-prefix", "/cli/", "--page-size", "5")
        self.assertEqual([g["logGroupName"] for g in out["logGroups"]], ["/cli/%02d" % i for i in range(12)])
        failed = self.server.cli("logs", "delete-log-group", "--log-group-name", "/nope", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("ResourceNotFoundException", failed.stderr)
        self.assertIn(GROUP_MISSING, failed.stderr)

    def test_list_log_groups(self):
        if not hasattr(self.logs, "list_log_groups"):
            self.skipTest("this botocore predates ListLogGroups (2024)")
        for name in ["/aws/lambda/one", "/aws/lambda/two", "/ecs/discovery-api", "/app/Discovery", "other"]:
            self.logs.create_log_group(logGroupName=name)
        names = lambda **kw: [g["logGroupName"] for g in self.logs.list_log_groups(**kw)["logGroups"]]
        self.assertEqual(names(), ["/app/Discovery", "/aws/lambda/one", "/aws/lambda/two", "/ecs/discovery-api", "other"])
        # AWS's example: '^' anchors a prefix, '|' separates alternatives, matches are case sensitive.
        self.assertEqual(names(logGroupNamePattern="^/aws/lambda|discovery"), ["/aws/lambda/one", "/aws/lambda/two", "/ecs/discovery-api"])
        self.assertEqual(names(logGroupNamePattern="lambda"), ["/aws/lambda/one", "/aws/lambda/two"])
        self.assertEqual(names(logGroupNamePattern="^lambda"), [])
        group = self.logs.list_log_groups(logGroupNamePattern="^other")["logGroups"][0]
        self.assertEqual(group["logGroupArn"], group_arn("other"))
        self.assertEqual(group["logGroupClass"], "STANDARD")
        page = self.logs.list_log_groups(limit=2)
        self.assertEqual([g["logGroupName"] for g in page["logGroups"]], ["/app/Discovery", "/aws/lambda/one"])
        page = self.logs.list_log_groups(limit=2, nextToken=page["nextToken"])
        self.assertEqual([g["logGroupName"] for g in page["logGroups"]], ["/aws/lambda/two", "/ecs/discovery-api"])
        page = self.logs.list_log_groups(limit=2, nextToken=page["nextToken"])
        self.assertEqual([g["logGroupName"] for g in page["logGroups"]], ["other"])
        self.assertNotIn("nextToken", page)


class LogStreams(LogsTestCase):
    def setUp(self):
        super().setUp()
        self.logs.create_log_group(logGroupName="g")

    def put(self, stream, timestamp, message="m"):
        self.logs.put_log_events(logGroupName="g", logStreamName=stream, logEvents=[{"timestamp": timestamp, "message": message}])

    def test_create_describe_delete(self):
        before = now_ms()
        self.logs.create_log_stream(logGroupName="g", logStreamName="2024/01/01/[$LATEST]abc")
        stream = self.logs.describe_log_streams(logGroupName="g")["logStreams"][0]
        self.assertEqual(stream["logStreamName"], "2024/01/01/[$LATEST]abc")
        self.assertEqual(stream["arn"], group_arn("g") + ":log-stream:2024/01/01/[$LATEST]abc")
        self.assertEqual(stream["storedBytes"], 0)
        self.assertGreaterEqual(stream["creationTime"], before - 1000)
        for absent in ("firstEventTimestamp", "lastEventTimestamp", "lastIngestionTime"):
            self.assertNotIn(absent, stream)

        with self.assertRaises(ClientError) as e:
            self.logs.create_log_stream(logGroupName="g", logStreamName="2024/01/01/[$LATEST]abc")
        self.assertError(e, "ResourceAlreadyExistsException", "The specified log stream already exists")
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_stream(logGroupName="missing", logStreamName="s")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_stream(logGroupName="g", logStreamName="a:b")
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value 'a:b' at 'logStreamName' failed to satisfy constraint: "
                         "Member must satisfy regular expression pattern: [^:*]*")

        self.logs.delete_log_stream(logGroupName="g", logStreamName="2024/01/01/[$LATEST]abc")
        self.assertEqual(self.logs.describe_log_streams(logGroupName="g")["logStreams"], [])
        with self.assertRaises(ClientError) as e:
            self.logs.delete_log_stream(logGroupName="g", logStreamName="2024/01/01/[$LATEST]abc")
        self.assertError(e, "ResourceNotFoundException", "The specified log stream does not exist.")
        with self.assertRaises(ClientError) as e:
            self.logs.delete_log_stream(logGroupName="missing", logStreamName="s")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupName="missing")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)

    def test_event_times_are_tracked(self):
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        t = now_ms()
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": t - 5000, "message": "a"}, {"timestamp": t - 4000, "message": "b"}])
        self.put("s", t - 60000)  # older than what is there: first moves back, last stays
        stream = self.logs.describe_log_streams(logGroupName="g")["logStreams"][0]
        self.assertEqual(stream["firstEventTimestamp"], t - 60000)
        self.assertEqual(stream["lastEventTimestamp"], t - 4000)
        self.assertGreaterEqual(stream["lastIngestionTime"], t - 1000)

    def test_order_by_name_prefix_and_descending(self):
        for name in ["b", "a2", "c", "a1", "a10"]:
            self.logs.create_log_stream(logGroupName="g", logStreamName=name)
        names = lambda **kw: [s["logStreamName"] for s in self.logs.describe_log_streams(logGroupName="g", **kw)["logStreams"]]
        self.assertEqual(names(), ["a1", "a10", "a2", "b", "c"])
        self.assertEqual(names(orderBy="LogStreamName"), ["a1", "a10", "a2", "b", "c"])
        self.assertEqual(names(descending=True), ["c", "b", "a2", "a10", "a1"])
        self.assertEqual(names(logStreamNamePrefix="a1"), ["a1", "a10"])
        self.assertEqual(names(logStreamNamePrefix="a", descending=True), ["a2", "a10", "a1"])
        self.assertEqual(names(logStreamNamePrefix="z"), [])

    def test_order_by_last_event_time(self):
        t = now_ms()
        for name, offset in [("old", -30000), ("newest", -1000), ("middle", -20000)]:
            self.logs.create_log_stream(logGroupName="g", logStreamName=name)
            self.put(name, t + offset)
        self.put("old", t - 25000)  # an older event does not make "old" newer
        names = lambda **kw: [s["logStreamName"] for s in self.logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", **kw)["logStreams"]]
        self.assertEqual(names(), ["old", "middle", "newest"])
        self.assertEqual(names(descending=True), ["newest", "middle", "old"])
        self.put("old", t)
        self.assertEqual(names(descending=True), ["old", "newest", "middle"])

        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="o")
        self.assertError(e, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupName="g", orderBy="sth")
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value 'sth' at 'orderBy' failed to satisfy constraint: "
                         "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupName="g", limit=51)
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
                         "Member must have value less than or equal to 50")

    def test_pagination_in_every_order(self):
        t = now_ms()
        names = ["s%03d" % i for i in range(60)]
        for i, name in enumerate(names):
            self.logs.create_log_stream(logGroupName="g", logStreamName=name)
        # Last event times run against the names: s059 is oldest, s000 newest.
        for i, name in enumerate(names):
            self.put(name, t - 1000 * i)
        paginator = self.logs.get_paginator("describe_log_streams")

        def collect(page_size, **kw):
            seen = []
            for page in paginator.paginate(logGroupName="g", PaginationConfig={"PageSize": page_size}, **kw):
                self.assertLessEqual(len(page["logStreams"]), page_size)
                seen += [s["logStreamName"] for s in page["logStreams"]]
            return seen

        self.assertEqual(collect(7), names)
        self.assertEqual(collect(50), names)
        self.assertEqual(collect(11, descending=True), names[::-1])
        self.assertEqual(collect(9, logStreamNamePrefix="s02"), names[20:30])
        self.assertEqual(collect(8, orderBy="LastEventTime"), names[::-1])
        self.assertEqual(collect(13, orderBy="LastEventTime", descending=True), names)
        # Default page: 50 streams.
        first = self.logs.describe_log_streams(logGroupName="g")
        self.assertEqual(len(first["logStreams"]), 50)
        self.assertIn("nextToken", first)

        # Streams deleted or created behind the cursor neither repeat nor shift the next page.
        page = self.logs.describe_log_streams(logGroupName="g", limit=5)
        self.logs.delete_log_stream(logGroupName="g", logStreamName="s001")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s0005")
        page = self.logs.describe_log_streams(logGroupName="g", limit=5, nextToken=page["nextToken"])
        self.assertEqual([s["logStreamName"] for s in page["logStreams"]], names[5:10])

    def test_log_group_identifier(self):
        if not identifier_usable(self.logs, "DescribeLogStreams"):
            self.skipTest("this botocore still requires logGroupName in DescribeLogStreams")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        for identifier in ("g", group_arn("g")):
            streams = self.logs.describe_log_streams(logGroupIdentifier=identifier)["logStreams"]
            self.assertEqual([s["logStreamName"] for s in streams], ["s"])
        # The ":*" form of the ARN is not an identifier (AWS answers with the model's pattern).
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupIdentifier=group_arn("g") + ":*")
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value '%s:*' at 'logGroupIdentifier' failed to satisfy constraint: "
                         "Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*" % group_arn("g"))
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupIdentifier=group_arn("missing"))
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        with self.assertRaises(ClientError) as e:
            self.logs.describe_log_streams(logGroupIdentifier="g", logGroupName="g")
        self.assertError(e, "InvalidParameterException")

    def test_cli(self):
        for name in ["web-1", "web-2", "worker-1"]:
            self.server.cli("logs", "create-log-stream", "--log-group-name", "g", "--log-stream-name", name)
        out = self.server.cli_json("logs", "describe-log-streams", "--log-group-name", "g", "--log-stream-name-prefix", "web")
        self.assertEqual([s["logStreamName"] for s in out["logStreams"]], ["web-1", "web-2"])
        out = self.server.cli_json("logs", "describe-log-streams", "--log-group-name", "g", "--descending", "--page-size", "1")
        self.assertEqual([s["logStreamName"] for s in out["logStreams"]], ["worker-1", "web-2", "web-1"])
        failed = self.server.cli("logs", "describe-log-streams", "--log-group-name", "g", "--order-by", "LastEventTime",
                                 "--log-stream-name-prefix", "web", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("InvalidParameterException", failed.stderr)
        self.assertIn("Cannot order by LastEventTime with a logStreamNamePrefix.", failed.stderr)


if __name__ == "__main__":
    unittest.main()
