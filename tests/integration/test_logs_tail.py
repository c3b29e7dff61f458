"""`aws logs tail` (AWS CLI v2 only) against Vigil: --since, --filter-pattern, stream
selection and --follow. The CLI builds these on FilterLogEvents: startTime, nextToken paging
and, when following, re-polling every 5 s from the newest timestamp seen, de-duplicating
by eventId."""
import queue
import threading
import time
import unittest

from vigil_testing import FLAVOUR, ServerTestCase, now_ms

MINUTE = 60 * 1000


@unittest.skipIf(FLAVOUR == "image", "the image's AWS CLI v1 has no `logs tail` (a v2 command); the debian flavour runs these")
class LogsTail(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")
        self.logs.create_log_group(logGroupName="/app")
        for name in ("web", "worker"):
            self.logs.create_log_stream(logGroupName="/app", logStreamName=name)

    def put(self, stream, *events):
        self.logs.put_log_events(logGroupName="/app", logStreamName=stream,
                                 logEvents=[{"timestamp": t, "message": m} for t, m in events])

    @staticmethod
    def parse(stdout):
        """Lines of the default (detailed) format: "<ISO timestamp> <stream> <message>"."""
        return [tuple(line.split(" ", 2)[1:]) for line in stdout.splitlines() if line.strip()]

    def test_since_and_filter_pattern(self):
        t = now_ms()
        self.put("web", (t - 2 * 60 * MINUTE, "ERROR two hours ago"), (t - 90 * MINUTE, "ERROR ninety minutes ago"))
        self.put("web", (t - 30 * MINUTE, "ERROR half an hour ago"), (t - 5 * MINUTE, "INFO five minutes ago"))
        self.put("worker", (t - 20 * MINUTE, "ERROR worker failed"), (t - MINUTE, "ERROR worker failed again"))
        out = self.server.cli("logs", "tail", "/app", "--since", "1h", "--filter-pattern", "ERROR").stdout
        self.assertEqual(self.parse(out), [("web", "ERROR half an hour ago"), ("worker", "ERROR worker failed"),
                                           ("worker", "ERROR worker failed again")])
        # The default window is the last 10 minutes.
        out = self.server.cli("logs", "tail", "/app").stdout
        self.assertEqual(self.parse(out), [("web", "INFO five minutes ago"), ("worker", "ERROR worker failed again")])
        out = self.server.cli("logs", "tail", "/app", "--since", "3h", "--log-stream-names", "worker").stdout
        self.assertEqual(self.parse(out), [("worker", "ERROR worker failed"), ("worker", "ERROR worker failed again")])
        out = self.server.cli("logs", "tail", "/app", "--since", "1h", "--log-stream-name-prefix", "we", "--format", "short").stdout
        self.assertEqual([line.split(" ", 1)[1] for line in out.splitlines()], ["ERROR half an hour ago", "INFO five minutes ago"])
        failed = self.server.cli("logs", "tail", "/missing", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("ResourceNotFoundException", failed.stderr)

    def test_pages_through_many_events(self):
        t = now_ms() - 30 * MINUTE
        for stream in ("web", "worker"):
            batch = [(t + i, "%s %05d" % (stream, i)) for i in range(6000)]
            self.put(stream, *batch[:3000])
            self.put(stream, *batch[3000:])
        lines = self.parse(self.server.cli("logs", "tail", "/app", "--since", "1h").stdout)
        self.assertEqual(len(lines), 12000)
        self.assertEqual(len(set(lines)), 12000)
        self.assertEqual([m for s, m in lines if s == "web"], ["web %05d" % i for i in range(6000)])

    def test_follow_prints_new_events_once(self):
        t = now_ms()
        self.put("web", (t - 2 * MINUTE, "before 1"), (t - MINUTE, "ERROR before 2"))
        process = self.server.cli_popen("logs", "tail", "/app", "--follow", "--since", "5m")
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout], daemon=True)
        reader.start()
        received = []

        def wait_for(count, timeout):
            deadline = time.time() + timeout
            while len(received) < count and time.time() < deadline:
                try:
                    received.append(lines.get(timeout=0.2))
                except queue.Empty:
                    if process.poll() is not None:
                        break
            return [tuple(line.split(" ", 2)[1:]) for line in received]

        try:
            self.assertEqual(wait_for(2, 30), [("web", "before 1"), ("web", "ERROR before 2")])
            # New events, in both streams, some at the very millisecond tail resumes from.
            now = now_ms()
            self.put("worker", (now, "live 1"), (now, "live 2"))
            self.put("web", (now, "live 3"))
            got = wait_for(5, 30)
            self.assertEqual(got[:2], [("web", "before 1"), ("web", "ERROR before 2")])
            self.assertEqual(sorted(got[2:]), [("web", "live 3"), ("worker", "live 1"), ("worker", "live 2")])
            # Another poll re-reads the newest millisecond: nothing is printed twice.
            later = now_ms()
            self.put("web", (later, "live 4"))
            got = wait_for(6, 30)
            self.assertEqual(got[-1], ("web", "live 4"))
            self.assertEqual(len(got), 6)
            self.assertIsNone(process.poll(), process.stderr.read() if process.poll() is not None else "")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except Exception:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
        self.assertEqual(len(received), 6, received)


if __name__ == "__main__":
    unittest.main()
