"""Nothing acknowledged is lost: kill -9 the server while clients write, restart, and check
that every acknowledged log event is readable, in order, exactly once, that every acknowledged metric
datapoint is counted exactly once, and that every acknowledged mutating call has its CloudTrail
record."""
import datetime
import json
import random
import threading
import time
import unittest

from vigil_testing import VigilServer, now_ms

WRITERS = 4
KILLS = 3


def kill_under_load(server, make_threads, pause, acknowledged_count):
    """KILLS times: start the writer threads make_threads(stop) returns, wait until one more call
    is acknowledged (acknowledged_count() grows; on a busy machine a writer may need seconds to
    make its client), let them write for a random pause (seconds, a (low, high) pair), kill -9
    the server, wait for the writers (their in-flight call fails) and restart the server on the
    same data directory."""
    for _ in range(KILLS):
        stop = threading.Event()
        threads = make_threads(stop)
        before = acknowledged_count()
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while acknowledged_count() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.uniform(*pause))
        server.kill()
        for t in threads:
            t.join(timeout=60)
        server.start(port=0)


class CrashDurability(unittest.TestCase):
    def test_kill_9_under_load_loses_no_acknowledged_event(self):
        server = VigilServer().start()
        try:
            logs = server.client("logs")
            logs.create_log_group(logGroupName="crash")
            for w in range(WRITERS):
                logs.create_log_stream(logGroupName="crash", logStreamName="w%d" % w)
            acknowledged = {w: [] for w in range(WRITERS)}   # per stream: acknowledged messages in order
            in_flight = {w: set() for w in range(WRITERS)}   # sent but not acknowledged when the server died
            batch_counter = [0] * WRITERS
            base = now_ms()

            def writer(w, port, stop):
                client = server.client("logs")
                while not stop.is_set():
                    n = batch_counter[w]
                    batch_counter[w] += 1  # never reuse ids: an unacknowledged batch may have landed
                    messages = ["w%d-b%d-e%d" % (w, n, i) for i in range(20)]
                    events = [{"timestamp": base + n, "message": m} for m in messages]
                    try:
                        client.put_log_events(logGroupName="crash", logStreamName="w%d" % w, logEvents=events)
                    except Exception:
                        in_flight[w].update(messages)
                        return
                    acknowledged[w].extend(messages)

            # Batches after a restart must still be accepted (sequences never collide).
            kill_under_load(server, lambda stop: [threading.Thread(target=writer, args=(w, server.port, stop)) for w in range(WRITERS)],
                            (0.3, 0.8), lambda: sum(len(a) for a in acknowledged.values()))

            logs = server.client("logs")
            total = 0
            for w in range(WRITERS):
                got = []
                kwargs = {"logGroupName": "crash", "logStreamName": "w%d" % w, "startFromHead": True}
                while True:
                    page = logs.get_log_events(**kwargs)
                    got += [e["message"] for e in page["events"]]
                    if page["nextForwardToken"] == kwargs.get("nextToken"):
                        break
                    kwargs["nextToken"] = page["nextForwardToken"]
                # Every acknowledged event exactly once; only in-flight ones may also appear.
                acked = set(acknowledged[w])
                self.assertEqual(len(got), len(set(got)), "duplicates in stream w%d" % w)
                missing = [m for m in acknowledged[w] if m not in set(got)]
                self.assertEqual(missing, [], "acknowledged events lost in stream w%d" % w)
                unexpected = [m for m in got if m not in acked and m not in in_flight[w]]
                self.assertEqual(unexpected, [])
                # Order: acknowledged events appear in the order they were written.
                positions = [got.index(m) for m in acknowledged[w]]
                self.assertEqual(positions, sorted(positions))
                total += len(acknowledged[w])
            self.assertGreater(total, 100, "the writers should have had events acknowledged")
        finally:
            server.cleanup()

    def test_kill_9_under_metric_load_counts_each_acknowledged_call_once(self):
        # Each call n of writer w puts DATUMS values (0..DATUMS-1) into series Host=w at second
        # base+n (1-second resolution, so every call owns its bucket). Afterwards a call's bucket
        # must hold exactly its values if acknowledged, nothing or exactly its values if it was
        # in flight, and nothing otherwise: no loss, no double count after replaying the
        # staged records.
        datums = 20
        server = VigilServer().start()
        try:
            base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
            acknowledged = {w: set() for w in range(WRITERS)}
            in_flight = {w: set() for w in range(WRITERS)}
            next_call = [0] * WRITERS

            def writer(w, stop):
                client = server.client("cloudwatch")
                while not stop.is_set():
                    n = next_call[w]
                    next_call[w] += 1
                    at = base + datetime.timedelta(seconds=n)
                    data = [{"MetricName": "Crash", "Dimensions": [{"Name": "Host", "Value": "w%d" % w}], "Timestamp": at,
                             "Value": float(i), "StorageResolution": 1} for i in range(datums)]
                    try:
                        client.put_metric_data(Namespace="Crash", MetricData=data)
                    except Exception:
                        in_flight[w].add(n)
                        return
                    acknowledged[w].add(n)

            # Pauses across staging flushes (every second).
            kill_under_load(server, lambda stop: [threading.Thread(target=writer, args=(w, stop)) for w in range(WRITERS)], (0.8, 2.5),
                            lambda: sum(len(a) for a in acknowledged.values()))

            cw = server.client("cloudwatch")
            total = 0
            for w in range(WRITERS):
                buckets = {}
                for start in range(0, next_call[w] + 1, 1440):  # 1 440 datapoints per call
                    out = cw.get_metric_statistics(
                        Namespace="Crash", MetricName="Crash", Dimensions=[{"Name": "Host", "Value": "w%d" % w}],
                        StartTime=base + datetime.timedelta(seconds=start), EndTime=base + datetime.timedelta(seconds=start + 1440),
                        Period=1, Statistics=["SampleCount", "Sum"])
                    for d in out["Datapoints"]:
                        buckets[int((d["Timestamp"] - base).total_seconds())] = (d["SampleCount"], d["Sum"])
                whole = (float(datums), float(sum(range(datums))))
                lost = sorted(n for n in acknowledged[w] if buckets.get(n) != whole)
                self.assertEqual(lost, [], "acknowledged calls of writer %d lost or miscounted: %s" % (w, [(n, buckets.get(n)) for n in lost[:5]]))
                wrong = sorted(n for n in buckets if buckets[n] != whole or (n not in acknowledged[w] and n not in in_flight[w]))
                self.assertEqual(wrong, [], "unexpected buckets of writer %d: %s" % (w, [(n, buckets[n]) for n in wrong[:5]]))
                total += len(acknowledged[w])
            self.assertGreater(total, 50, "the writers should have had calls acknowledged")
        finally:
            server.cleanup()

    def test_kill_9_under_load_keeps_the_audit_record_of_each_acknowledged_change(self):
        # Records are written by the store's background writer; a mutating call's answer waits
        # until its record is in the WAL, so a kill -9 cannot lose it (reads may be lost).
        server = VigilServer().start()
        try:
            acknowledged, in_flight = set(), set()
            counter = [0]
            lock = threading.Lock()

            def writer(client, stop):
                while not stop.is_set():
                    with lock:
                        name = "audit-%d" % counter[0]
                        counter[0] += 1
                    try:
                        client.create_log_group(logGroupName=name)
                        client.describe_log_groups(logGroupNamePrefix=name)  # reads queued between changes
                    except Exception:
                        in_flight.add(name)
                        return
                    acknowledged.add(name)

            # Clients are made before the pause starts (making one takes a while).
            kill_under_load(server, lambda stop: [threading.Thread(target=writer, args=(server.client("logs"), stop)) for _ in range(WRITERS)],
                            (0.5, 1.2), lambda: len(acknowledged))

            cloudtrail = server.client("cloudtrail")
            recorded = set()
            kwargs = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateLogGroup"}], "MaxResults": 50}
            while True:
                page = cloudtrail.lookup_events(**kwargs)
                for event in page["Events"]:
                    recorded.add(json.loads(event["CloudTrailEvent"])["requestParameters"]["logGroupName"])
                if "NextToken" not in page:
                    break
                kwargs["NextToken"] = page["NextToken"]
            self.assertGreater(len(acknowledged), 20, "the writers should have had calls acknowledged")
            lost = sorted(acknowledged - recorded)
            self.assertEqual(lost, [], "acknowledged CreateLogGroup calls without their record")
            self.assertEqual(recorded - acknowledged - in_flight, set())
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
