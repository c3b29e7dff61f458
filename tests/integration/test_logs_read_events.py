"""Reading CloudWatch Logs events: GetLogEvents (head/tail, forward and backward tokens, the
"same token back means the end" rule, 1 MB pages, time ranges), FilterLogEvents (streams
interleaved by time, stream selection, time ranges, limit and nextToken paging over
thousands of events, filter patterns) and TestMetricFilter."""
import unittest

from botocore.exceptions import ClientError

from vigil_testing import REGION, ServerTestCase, now_ms

ACCOUNT = "000000000000"


def group_arn(name):
    return "arn:aws:logs:%s:%s:log-group:%s" % (REGION, ACCOUNT, name)


def identifier_usable(client, operation):
    """Whether this botocore lets a request name its log group by logGroupIdentifier alone."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return "logGroupIdentifier" in shape.members and "logGroupName" not in shape.required_members


class LogsTestCase(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")
        self.logs.create_log_group(logGroupName="g")

    def stream(self, name):
        self.logs.create_log_stream(logGroupName="g", logStreamName=name)

    def put_many(self, stream, events):
        """Puts events in batches that respect PutLogEvents' limits."""
        batch, size = [], 0
        for e in events:
            event_size = len(e["message"].encode()) + 26
            if len(batch) == 10000 or size + event_size > 1048576:
                self.logs.put_log_events(logGroupName="g", logStreamName=stream, logEvents=batch)
                batch, size = [], 0
            batch.append(e)
            size += event_size
        if batch:
            self.logs.put_log_events(logGroupName="g", logStreamName=stream, logEvents=batch)

    def assertError(self, ctx, code, message=None):
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        if message is not None:
            self.assertEqual(error["Message"], message)


class GetLogEvents(LogsTestCase):
    def setUp(self):
        super().setUp()
        self.stream("s")

    def get(self, **kw):
        return self.logs.get_log_events(logGroupName="g", logStreamName="s", **kw)

    def test_head_and_tail(self):
        t = now_ms() - 1000
        self.put_many("s", [{"timestamp": t + i, "message": "m%02d" % i} for i in range(20)])
        # By default the latest events come back, oldest first within the page.
        self.assertEqual([e["message"] for e in self.get(limit=5)["events"]], ["m15", "m16", "m17", "m18", "m19"])
        self.assertEqual([e["message"] for e in self.get(limit=5, startFromHead=True)["events"]], ["m00", "m01", "m02", "m03", "m04"])
        self.assertEqual(len(self.get()["events"]), 20)
        event = self.get(limit=1)["events"][0]
        self.assertEqual(set(event), {"timestamp", "message", "ingestionTime"})
        self.assertEqual(event["timestamp"], t + 19)

    def test_forward_and_backward_tokens(self):
        t = now_ms() - 1000
        self.put_many("s", [{"timestamp": t + i, "message": "m%02d" % i} for i in range(20)])
        page = self.get(limit=8, startFromHead=True)
        self.assertRegex(page["nextForwardToken"], r"^f/\d{56}/s$")
        self.assertRegex(page["nextBackwardToken"], r"^b/\d{56}/s$")
        seen = [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
        while True:
            page = self.get(limit=8, nextToken=token)
            seen += [e["message"] for e in page["events"]]
            if page["nextForwardToken"] == token:  # the end: the same token comes back
                self.assertEqual(page["events"], [])
                break
            token = page["nextForwardToken"]
        self.assertEqual(seen, ["m%02d" % i for i in range(20)])

        # At the end the stream keeps growing: the same token now returns the new events.
        self.put_many("s", [{"timestamp": t + 50, "message": "late"}])
        page = self.get(nextToken=token)
        self.assertEqual([e["message"] for e in page["events"]], ["late"])
        self.assertNotEqual(page["nextForwardToken"], token)

        # Backward from a middle page: the events before it, then the same token at the head.
        page = self.get(limit=5, startFromHead=True)
        page = self.get(limit=5, nextToken=page["nextForwardToken"])  # m05..m09
        back = self.get(limit=3, nextToken=page["nextBackwardToken"])
        self.assertEqual([e["message"] for e in back["events"]], ["m02", "m03", "m04"])
        back = self.get(limit=3, nextToken=back["nextBackwardToken"])
        self.assertEqual([e["message"] for e in back["events"]], ["m00", "m01"])
        token = back["nextBackwardToken"]
        back = self.get(limit=3, nextToken=token)
        self.assertEqual(back["events"], [])
        self.assertEqual(back["nextBackwardToken"], token)
        # The token's direction decides, whatever startFromHead says.
        self.assertEqual([e["message"] for e in self.get(limit=2, nextToken=page["nextForwardToken"], startFromHead=False)["events"]],
                         ["m10", "m11"])

    def test_paging_backward_through_a_large_stream_in_1_mb_pages(self):
        t = now_ms() - 60000
        body = "x" * 200
        total = 12000
        self.put_many("s", [{"timestamp": t + i // 4, "message": "%05d %s" % (i, body)} for i in range(total)])
        per_event = len("%05d %s" % (0, body)) + 26
        seen, pages = [], 0
        page = self.get()  # the latest events, as many as fit in 1 MB
        while True:
            pages += 1
            self.assertLessEqual(sum(len(e["message"]) + 26 for e in page["events"]), 1048576)
            self.assertEqual(len(page["events"]), min(1048576 // per_event, total - len(seen)) if page["events"] else 0)
            seen = [int(e["message"][:5]) for e in page["events"]] + seen
            token = page["nextBackwardToken"]
            page = self.get(nextToken=token)
            if page["nextBackwardToken"] == token:
                self.assertEqual(page["events"], [])
                break
        self.assertEqual(seen, list(range(total)))  # every event once, in order
        self.assertEqual(pages, -(-total // (1048576 // per_event)))

        # Forward from the head with a limit: the same events, no gaps or repeats.
        seen, token = [], None
        while True:
            page = self.get(nextToken=token, limit=5000) if token else self.get(startFromHead=True, limit=5000)
            seen += [int(e["message"][:5]) for e in page["events"]]
            if page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
        self.assertEqual(seen, list(range(total)))

    def test_time_range(self):
        t = now_ms() - 10000
        self.put_many("s", [{"timestamp": t + 10 * i, "message": "m%d" % i} for i in range(10)])
        messages = lambda **kw: [e["message"] for e in self.get(**kw)["events"]]
        # startTime is inclusive, endTime exclusive.
        self.assertEqual(messages(startTime=t + 20, endTime=t + 50, startFromHead=True), ["m2", "m3", "m4"])
        self.assertEqual(messages(startTime=t + 20, endTime=t + 50), ["m2", "m3", "m4"])
        self.assertEqual(messages(startTime=t + 21, endTime=t + 51), ["m3", "m4", "m5"])
        self.assertEqual(messages(startTime=t + 85), ["m9"])
        self.assertEqual(messages(endTime=t + 10), ["m0"])
        self.assertEqual(messages(startTime=t + 20, endTime=t + 50, limit=2), ["m3", "m4"])
        self.assertEqual(messages(startTime=t + 1000), [])
        # Pages stay inside the range.
        page = self.get(startTime=t + 20, endTime=t + 50, limit=2, startFromHead=True)
        page = self.get(startTime=t + 20, endTime=t + 50, limit=2, nextToken=page["nextForwardToken"])
        self.assertEqual([e["message"] for e in page["events"]], ["m4"])

    def test_empty_stream_then_events(self):
        page = self.get()
        self.assertEqual(page["events"], [])
        again = self.get(nextToken=page["nextForwardToken"])
        self.assertEqual(again["nextForwardToken"], page["nextForwardToken"])  # nothing more yet
        t = now_ms()
        self.put_many("s", [{"timestamp": t - 5000, "message": "a"}, {"timestamp": t, "message": "b"}])
        self.assertEqual([e["message"] for e in self.get(nextToken=page["nextForwardToken"])["events"]], ["a", "b"])
        self.assertEqual([e["message"] for e in self.get(nextToken=page["nextBackwardToken"])["events"]], ["a", "b"])

    def test_errors(self):
        with self.assertRaises(ClientError) as e:
            self.logs.get_log_events(logGroupName="g", logStreamName="missing")
        self.assertError(e, "ResourceNotFoundException", "The specified log stream does not exist.")
        with self.assertRaises(ClientError) as e:
            self.logs.get_log_events(logGroupName="missing", logStreamName="s")
        self.assertError(e, "ResourceNotFoundException", "The specified log group does not exist.")
        for token in ("n/00000000000000000000000000000000000000000000000000000000/s", "not-existing-token", "f/1/s"):
            with self.assertRaises(ClientError) as e:
                self.get(nextToken=token)
            self.assertError(e, "InvalidParameterException", "The specified nextToken is invalid.")
        with self.assertRaises(ClientError) as e:
            self.get(limit=10001)
        self.assertError(e, "InvalidParameterException",
                         "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
                         "Member must have value less than or equal to 10000")

    def test_log_group_identifier(self):
        if not identifier_usable(self.logs, "GetLogEvents"):
            self.skipTest("this botocore still requires logGroupName in GetLogEvents")
        self.put_many("s", [{"timestamp": now_ms(), "message": "hi"}])
        for identifier in ("g", group_arn("g")):
            events = self.logs.get_log_events(logGroupIdentifier=identifier, logStreamName="s")["events"]
            self.assertEqual([e["message"] for e in events], ["hi"])

    def test_cli(self):
        t = now_ms()
        self.put_many("s", [{"timestamp": t + i, "message": "line %d" % i} for i in range(5)])
        out = self.server.cli_json("logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s", "--start-from-head", "--limit", "2")
        self.assertEqual([e["message"] for e in out["events"]], ["line 0", "line 1"])
        out = self.server.cli_json("logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s", "--next-token", out["nextForwardToken"])
        self.assertEqual([e["message"] for e in out["events"]], ["line 2", "line 3", "line 4"])


class FilterLogEvents(LogsTestCase):
    def test_streams_are_interleaved_by_time(self):
        t = now_ms() - 10000
        for name in ("a", "b", "c"):
            self.stream(name)
        self.put_many("b", [{"timestamp": t + 1, "message": "b1"}, {"timestamp": t + 3, "message": "b3"}])
        self.put_many("a", [{"timestamp": t + 0, "message": "a0"}, {"timestamp": t + 3, "message": "a3"}, {"timestamp": t + 4, "message": "a4"}])
        self.put_many("c", [{"timestamp": t + 2, "message": "c2"}, {"timestamp": t + 3, "message": "c3"}])
        out = self.logs.filter_log_events(logGroupName="g")
        # By timestamp; equal timestamps in the order they were ingested.
        self.assertEqual([e["message"] for e in out["events"]], ["a0", "b1", "c2", "b3", "a3", "c3", "a4"])
        self.assertEqual([e["logStreamName"] for e in out["events"]], ["a", "b", "c", "b", "a", "c", "a"])
        self.assertNotIn("nextToken", out)
        self.assertEqual(out.get("searchedLogStreams", []), [])  # AWS: "This parameter returns an empty list."
        ids = [e["eventId"] for e in out["events"]]
        self.assertEqual(len(set(ids)), len(ids))
        for e in out["events"]:
            self.assertRegex(e["eventId"], r"^\d{56}$")
            self.assertGreaterEqual(e["ingestionTime"], t)
        # The same event has the same id on every read.
        self.assertEqual([e["eventId"] for e in self.logs.filter_log_events(logGroupName="g")["events"]], ids)

    def test_stream_selection_and_time_range(self):
        t = now_ms() - 10000
        for name in ("web-1", "web-2", "worker"):
            self.stream(name)
            self.put_many(name, [{"timestamp": t + i, "message": "%s %d" % (name, i)} for i in range(3)])
        names = lambda **kw: sorted({e["logStreamName"] for e in self.logs.filter_log_events(logGroupName="g", **kw)["events"]})
        self.assertEqual(names(logStreamNames=["web-1", "worker"]), ["web-1", "worker"])
        self.assertEqual(names(logStreamNames=["web-2", "no-such-stream"]), ["web-2"])
        self.assertEqual(names(logStreamNamePrefix="web"), ["web-1", "web-2"])
        self.assertEqual(names(logStreamNamePrefix="x"), [])
        with self.assertRaises(ClientError) as e:
            self.logs.filter_log_events(logGroupName="g", logStreamNames=["web-1"], logStreamNamePrefix="web")
        self.assertError(e, "InvalidParameterException")
        messages = lambda **kw: [e["message"] for e in self.logs.filter_log_events(logGroupName="g", logStreamNames=["worker"], **kw)["events"]]
        # Both ends are inclusive.
        self.assertEqual(messages(startTime=t + 1), ["worker 1", "worker 2"])
        self.assertEqual(messages(endTime=t + 1), ["worker 0", "worker 1"])
        self.assertEqual(messages(startTime=t + 1, endTime=t + 1), ["worker 1"])
        self.assertEqual(messages(startTime=t + 5), [])
        with self.assertRaises(ClientError) as e:
            self.logs.filter_log_events(logGroupName="missing")
        self.assertError(e, "ResourceNotFoundException", "The specified log group does not exist.")

    def test_paging_over_thousands_of_events_without_gaps_or_repeats(self):
        t = now_ms() - 60000
        streams = ["s1", "s2", "s3"]
        for name in streams:
            self.stream(name)
            # Shared timestamps across streams, many events per millisecond.
            self.put_many(name, [{"timestamp": t + i // 7, "message": "%s %04d%s" % (name, i, " ERROR" if i % 10 == 0 else "")}
                                 for i in range(2500)])
        seen, token, pages = [], None, 0
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.logs.filter_log_events(logGroupName="g", limit=1000, **kw)
            self.assertLessEqual(len(page["events"]), 1000)
            seen += page["events"]
            pages += 1
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(len(seen), 7500)
        self.assertGreaterEqual(pages, 8)
        self.assertEqual(len({e["eventId"] for e in seen}), 7500)
        self.assertEqual(sorted(e["message"] for e in seen), sorted("%s %04d%s" % (s, i, " ERROR" if i % 10 == 0 else "")
                                                                   for s in streams for i in range(2500)))
        timestamps = [e["timestamp"] for e in seen]
        self.assertEqual(timestamps, sorted(timestamps))
        # Within a stream, events keep their order.
        for name in streams:
            mine = [e["message"] for e in seen if e["logStreamName"] == name]
            self.assertEqual(mine, sorted(mine))

        # The boto3 paginator with a filter pattern and small pages.
        matched = []
        for page in self.logs.get_paginator("filter_log_events").paginate(logGroupName="g", filterPattern="ERROR",
                                                                          PaginationConfig={"PageSize": 40}):
            self.assertLessEqual(len(page["events"]), 40)
            matched += [e["message"] for e in page["events"]]
        self.assertEqual(len(matched), 750)
        self.assertEqual(len(set(matched)), 750)
        self.assertTrue(all(m.endswith(" ERROR") for m in matched))

    def test_filter_patterns(self):
        self.stream("app")
        t = now_ms() - 1000
        messages = [
            "ERROR disk full on /dev/sda1",
            "INFO request served in 12 ms",
            '{"level":"error","code":503,"user":{"id":7}}',
            '{"level":"info","code":200,"user":{"id":8}}',
            '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
            '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
            "WARN retrying after timeout",
        ]
        self.put_many("app", [{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])

        def which(pattern):
            events = self.logs.filter_log_events(logGroupName="g", filterPattern=pattern)["events"]
            return [messages.index(e["message"]) for e in events]

        self.assertEqual(which(""), list(range(7)))
        self.assertEqual(which("ERROR"), [0])
        self.assertEqual(which("?ERROR ?WARN"), [0, 6])
        self.assertEqual(which('"request served"'), [1])
        self.assertEqual(which("INFO -served"), [])
        self.assertEqual(which("{ $.code >= 500 }"), [2])
        self.assertEqual(which('{ $.level = "info" && $.user.id = 8 }'), [3])
        self.assertEqual(which("[ip, identity, user, timestamp, request, status_code = 4*, bytes]"), [4])
        self.assertEqual(which("[..., status_code = 200, bytes > 2000]"), [5])
        with self.assertRaises(ClientError) as e:
            self.logs.filter_log_events(logGroupName="g", filterPattern="{ $.code = }")
        self.assertError(e, "InvalidParameterException")

    def test_log_group_identifier(self):
        if not identifier_usable(self.logs, "FilterLogEvents"):
            self.skipTest("this botocore still requires logGroupName in FilterLogEvents")
        self.stream("s")
        self.put_many("s", [{"timestamp": now_ms(), "message": "hi"}])
        for identifier in ("g", group_arn("g")):
            events = self.logs.filter_log_events(logGroupIdentifier=identifier)["events"]
            self.assertEqual([e["message"] for e in events], ["hi"])

    def test_cli_pages_through_everything(self):
        self.stream("s")
        t = now_ms() - 5000
        self.put_many("s", [{"timestamp": t + i // 10, "message": "%04d %s" % (i, "ERROR" if i % 3 == 0 else "ok")} for i in range(3000)])
        out = self.server.cli_json("logs", "filter-log-events", "--log-group-name", "g", "--filter-pattern", "ERROR", "--page-size", "250")
        self.assertEqual([e["message"] for e in out["events"]], ["%04d ERROR" % i for i in range(0, 3000, 3)])
        out = self.server.cli_json("logs", "filter-log-events", "--log-group-name", "g", "--start-time", str(t + 100), "--end-time", str(t + 101))
        self.assertEqual([e["message"][:4] for e in out["events"]], ["%04d" % i for i in range(1000, 1020)])


class TestMetricFilter(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")

    def test_aws_example_extracts_values(self):
        # The example of AWS's TestMetricFilter reference.
        out = self.logs.test_metric_filter(filterPattern="[..., request=*.html*, status_code=4*,]", logEventMessages=[
            '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
            '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
            '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 200 4355',
        ])
        self.assertEqual(out["matches"], [{
            "eventNumber": 1,
            "eventMessage": '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
            "extractedValues": {"$status_code": "404", "$request": "GET /index.html HTTP/1.0", "$7": "1534",
                                "$4": "10/Oct/2000:13:25:15 -0700", "$3": "frank", "$2": "-", "$1": "127.0.0.1"},
        }])

    def test_named_fields_terms_and_json(self):
        out = self.logs.test_metric_filter(filterPattern="[ip, user, username, timestamp, request, status_code, bytes > 1000]",
                                           logEventMessages=['1.2.3.4 - bob [x] "GET /" 200 999', '1.2.3.4 - bob [x] "GET /" 200 1001'])
        self.assertEqual([m["eventNumber"] for m in out["matches"]], [2])
        self.assertEqual(out["matches"][0]["extractedValues"], {
            "$ip": "1.2.3.4", "$user": "-", "$username": "bob", "$timestamp": "x", "$request": "GET /", "$status_code": "200", "$bytes": "1001"})
        # Other pattern kinds match but extract nothing.
        out = self.logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["INFO ok", "ERROR bad", "ERROR worse"])
        self.assertEqual([(m["eventNumber"], m["eventMessage"], m["extractedValues"]) for m in out["matches"]],
                         [(2, "ERROR bad", {}), (3, "ERROR worse", {})])
        out = self.logs.test_metric_filter(filterPattern="{ $.latency > 500 }", logEventMessages=['{"latency": 501}', '{"latency": 5}', "not json"])
        self.assertEqual([m["eventNumber"] for m in out["matches"]], [1])
        out = self.logs.test_metric_filter(filterPattern="NOTHING", logEventMessages=["a", "b"])
        self.assertEqual(out["matches"], [])

    def test_errors(self):
        with self.assertRaises(ClientError) as e:
            self.logs.test_metric_filter(filterPattern="{ $.a = ", logEventMessages=["x"])
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        with self.assertRaises(ClientError) as e:
            self.logs.test_metric_filter(filterPattern="x", logEventMessages=["m"] * 51)
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        self.assertTrue(e.exception.response["Error"]["Message"].startswith("1 validation error detected: Value "))

    def test_cli(self):
        out = self.server.cli_json("logs", "test-metric-filter", "--filter-pattern", "[w1=ERROR, w2]",
                                   "--log-event-messages", "ERROR one", "INFO two", "ERROR three")
        self.assertEqual([(m["eventNumber"], m["extractedValues"]) for m in out["matches"]],
                         [(1, {"$w1": "ERROR", "$w2": "one"}), (3, {"$w1": "ERROR", "$w2": "three"})])


if __name__ == "__main__":
    unittest.main()
