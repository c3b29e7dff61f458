"""Nothing acknowledged is lost: kill -9 the server while clients write, restart, and check
that every acknowledged log event is readable, in order, exactly once."""
import random
import threading
import time
import unittest

from vigil_testing import VigilServer, now_ms

WRITERS = 4
KILLS = 3


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

            for round_ in range(KILLS):
                stop = threading.Event()
                threads = [threading.Thread(target=writer, args=(w, server.port, stop)) for w in range(WRITERS)]
                for t in threads:
                    t.start()
                time.sleep(random.uniform(0.3, 0.8))
                server.kill()
                for t in threads:
                    t.join(timeout=60)
                server.start(port=0)
                # Batches after a restart must still be accepted (sequences never collide).

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


if __name__ == "__main__":
    unittest.main()
