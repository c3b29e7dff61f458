"""PutLogEvents as AWS defines it: batch and event size limits (26 bytes per event, UTF-8),
the 10,000-event limit, chronological order, the 24-hour span of the accepted events, the
14-days-back / 2-hours-ahead window and the retention period (rejectedLogEventsInfo), and
sequence tokens that are accepted and ignored."""
import json
import os
import re
import tempfile
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, now_ms

MINUTE = 60 * 1000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class PutLogEvents(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")

    def put(self, events, **kw):
        return self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events, **kw)

    def stored(self):
        return [e["message"] for e in self.logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]]

    def assertInvalid(self, ctx, message):
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], "InvalidParameterException")
        self.assertEqual(error["Message"], message)

    def test_accepted_batch_is_readable_and_returns_a_sequence_token(self):
        t = now_ms()
        out = self.put([{"timestamp": t - 2, "message": "one"}, {"timestamp": t - 2, "message": "two"}, {"timestamp": t, "message": "three"}])
        self.assertNotIn("rejectedLogEventsInfo", out)
        self.assertRegex(out["nextSequenceToken"], r"^\d{56}$")
        # Sequence tokens are accepted and ignored: a stale, a made-up and the returned one all work.
        self.put([{"timestamp": t, "message": "four"}], sequenceToken="49599396607703531511419593985621160512859251095480828066")
        self.put([{"timestamp": t, "message": "five"}], sequenceToken=out["nextSequenceToken"])
        self.put([{"timestamp": t, "message": "six"}], sequenceToken="1")
        self.assertEqual(self.stored(), ["one", "two", "three", "four", "five", "six"])
        events = self.logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
        self.assertEqual([e["timestamp"] for e in events], [t - 2, t - 2, t, t, t, t])
        for e in events:
            self.assertGreaterEqual(e["ingestionTime"], t - 5000)

    def test_missing_group_or_stream(self):
        event = [{"timestamp": now_ms(), "message": "x"}]
        with self.assertRaises(ClientError) as e:
            self.logs.put_log_events(logGroupName="nope", logStreamName="s", logEvents=event)
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(e.exception.response["Error"]["Message"], "The specified log group does not exist.")
        with self.assertRaises(ClientError) as e:
            self.logs.put_log_events(logGroupName="g", logStreamName="nope", logEvents=event)
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(e.exception.response["Error"]["Message"], "The specified log stream does not exist.")

    def test_events_must_be_chronological(self):
        t = now_ms()
        for events in ([{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}],
                       # the order rule applies to events that would be rejected anyway
                       [{"timestamp": t, "message": "b"}, {"timestamp": t - 20 * DAY, "message": "a"}]):
            with self.assertRaises(ClientError) as e:
                self.put(events)
            self.assertInvalid(e, "Log events in a single PutLogEvents request must be in chronological order.")
        self.assertEqual(self.stored(), [])

    def test_span_of_the_accepted_events_is_at_most_24_hours(self):
        t = now_ms()
        self.put([{"timestamp": t - DAY, "message": "a"}, {"timestamp": t, "message": "b"}])  # exactly 24 hours
        with self.assertRaises(ClientError) as e:
            self.put([{"timestamp": t - DAY - 1, "message": "c"}, {"timestamp": t, "message": "d"}])
        self.assertInvalid(e, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
        # Rejected events do not count: 20 days old + now is fine, the old event is just rejected.
        out = self.put([{"timestamp": t - 20 * DAY, "message": "old"}, {"timestamp": t, "message": "e"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 1})
        self.assertEqual(self.stored(), ["a", "b", "e"])

    def test_too_old_and_too_new_events_are_rejected_with_exclusive_end_indexes(self):
        t = now_ms()
        out = self.put([{"timestamp": t - 15 * DAY, "message": "too old"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 1})
        out = self.put([{"timestamp": t + 3 * HOUR, "message": "too new"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooNewLogEventStartIndex": 0})
        self.assertEqual(self.stored(), [])

        # A batch of only rejected events succeeds and stores nothing.
        out = self.put([{"timestamp": t - 20 * DAY, "message": "a"}, {"timestamp": t - 15 * DAY, "message": "b"},
                        {"timestamp": t + 3 * HOUR, "message": "c"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 2})
        self.assertEqual(self.stored(), [])

    def test_window_rejections_do_not_fail_the_batch(self):
        t = now_ms()
        # Too old, accepted, too new in one batch (the accepted ones within 24 hours).
        out = self.put([
            {"timestamp": t - 30 * DAY, "message": "old 0"},
            {"timestamp": t - 14 * DAY - MINUTE, "message": "old 1"},
            {"timestamp": t - HOUR, "message": "kept 2"},
            {"timestamp": t + 2 * HOUR - MINUTE, "message": "kept 3"},
            {"timestamp": t + 2 * HOUR + MINUTE, "message": "new 4"},
            {"timestamp": t + 5 * HOUR, "message": "new 5"},
        ])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 4})
        self.assertEqual(self.stored(), ["kept 2", "kept 3"])
        self.assertRegex(out["nextSequenceToken"], r"^\d{56}$")

    def test_events_before_the_retention_period_are_expired(self):
        self.logs.put_retention_policy(logGroupName="g", retentionInDays=3)
        t = now_ms()
        out = self.put([{"timestamp": t - 4 * DAY, "message": "expired 0"}, {"timestamp": t - 3 * DAY - MINUTE, "message": "expired 1"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"expiredLogEventEndIndex": 2})
        out = self.put([
            {"timestamp": t - 20 * DAY, "message": "too old 0"},
            {"timestamp": t - 5 * DAY, "message": "expired 1"},
            {"timestamp": t - 2 * DAY, "message": "kept"},
            {"timestamp": t - 2 * DAY + HOUR, "message": "kept too"},
        ])
        # Each event counts once: older than 14 days is "too old", whatever the retention.
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 2})
        self.assertEqual(self.stored(), ["kept", "kept too"])
        # Without the policy the same event is accepted again.
        self.logs.delete_retention_policy(logGroupName="g")
        out = self.put([{"timestamp": t - 5 * DAY, "message": "no longer expired"}])
        self.assertNotIn("rejectedLogEventsInfo", out)

    def test_batch_size_counts_utf8_bytes_plus_26_per_event(self):
        t = now_ms()
        # 2 x (524,262 bytes + 26) = 1,048,576 bytes: exactly the limit. "é" is 2 bytes in UTF-8.
        half = "é" * (524262 // 2)
        self.put([{"timestamp": t, "message": half}, {"timestamp": t, "message": half}])
        with self.assertRaises(ClientError) as e:
            self.put([{"timestamp": t, "message": half}, {"timestamp": t, "message": half + "a"}])
        self.assertInvalid(e, "Upload too large: 1048577 bytes exceeds limit of 1048576")
        # Many small events: 26 bytes each add up too (40,330 x 26 alone is over 1 MB, so use
        # 10,000 events of 79 bytes: 10,000 x 105 = 1,050,000).
        with self.assertRaises(ClientError) as e:
            self.put([{"timestamp": t, "message": "x" * 79}] * 10000)
        self.assertInvalid(e, "Upload too large: 1050000 bytes exceeds limit of 1048576")
        self.assertEqual(len(self.stored()), 2)

    def test_one_event_can_be_up_to_1_mb(self):
        t = now_ms()
        biggest = "x" * (1048576 - 26)
        self.put([{"timestamp": t, "message": biggest}])
        with self.assertRaises(ClientError) as e:
            self.put([{"timestamp": t, "message": biggest + "y"}])
        self.assertInvalid(e, "Log event too large: 1048577 bytes exceeds limit of 1048576")
        # The 1 MB event is readable whole, by either read API.
        got = self.logs.get_log_events(logGroupName="g", logStreamName="s")["events"]
        self.assertEqual([len(e["message"]) for e in got], [len(biggest)])
        got = self.logs.filter_log_events(logGroupName="g")["events"]
        self.assertEqual([len(e["message"]) for e in got], [len(biggest)])

    def test_at_most_10000_events(self):
        t = now_ms()
        out = self.put([{"timestamp": t + i // 100, "message": str(i)} for i in range(10000)])
        self.assertNotIn("rejectedLogEventsInfo", out)
        with self.assertRaises(ClientError) as e:
            self.put([{"timestamp": t, "message": "x"}] * 10001)
        error = e.exception.response["Error"]
        self.assertEqual(error["Code"], "InvalidParameterException")
        self.assertTrue(error["Message"].startswith("1 validation error detected: Value "), error["Message"])
        self.assertTrue(error["Message"].endswith(
            " at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000"), error["Message"])
        stream = self.logs.describe_log_streams(logGroupName="g")["logStreams"][0]
        self.assertEqual(stream["firstEventTimestamp"], t)
        self.assertEqual(stream["lastEventTimestamp"], t + 99)
        count, token = 0, None
        while True:
            kw = {"nextToken": token} if token else {"startFromHead": True}
            page = self.logs.get_log_events(logGroupName="g", logStreamName="s", **kw)
            count += len(page["events"])
            if page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
        self.assertEqual(count, 10000)

    def test_cli_put_log_events(self):
        t = now_ms()
        events = [{"timestamp": t, "message": "from a file"}, {"timestamp": t + 1, "message": "second"}]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(events, f)
        try:
            out = self.server.cli_json("logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
                                       "--log-events", "file://" + f.name)
        finally:
            os.unlink(f.name)
        self.assertTrue(re.match(r"^\d{56}$", out["nextSequenceToken"]))
        out = self.server.cli_json("logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
                                   "--log-events", "timestamp=%d,message=future" % (t + 3 * HOUR))
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooNewLogEventStartIndex": 0})
        failed = self.server.cli("logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
                                 "--log-events", "timestamp=%d,message=b" % t, "timestamp=%d,message=a" % (t - 1), check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("InvalidParameterException", failed.stderr)
        self.assertIn("Log events in a single PutLogEvents request must be in chronological order.", failed.stderr)
        self.assertEqual(self.stored(), ["from a file", "second"])


if __name__ == "__main__":
    unittest.main()
