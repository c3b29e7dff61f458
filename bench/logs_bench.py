#!/usr/bin/env python3
"""End-to-end CloudWatch Logs benchmark: Vigil and moto_server, same workloads, one run.

  python3 bench/logs_bench.py [--vigil build/vigil] [--seconds 10] [--filter-events 1000000]

Workloads
- PutLogEvents: batches of 100 events x 200 B, replayed by wrk (the load generator is C, not
  boto3, so it is not the bottleneck). A SigV4-signed request stays valid for 15 minutes and
  AWS accepts replays, so one signed request can be replayed.
- FilterLogEvents over N events (~200 B each) with a selective term pattern: latency of a
  full scan (median of several calls), driven by boto3 (one call at a time).
- Server RSS idle and after load; time from exec to the first accepted request.
The machine's own limits are measured in the same run: the HTTP ceiling (wrk against a
trivial endpoint of the same server) and the disk's synced sequential write speed (dd).
Prints a markdown table for docs/performance.md.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EVENT_BYTES = 200
BATCH = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def wait_until_up(url, deadline=30.0):
    start = time.time()
    while time.time() - start < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.time() - start
        except Exception as e:  # connection refused until it listens; HTTP errors mean it is up
            if hasattr(e, "code"):
                return time.time() - start
            time.sleep(0.002)
    raise RuntimeError("server at %s did not come up" % url)


class Target:
    def __init__(self, name, args, port, health_path):
        self.name, self.args, self.port, self.health_path = name, args, port, health_path
        self.endpoint = "http://127.0.0.1:%d" % port

    def start(self):
        t0 = time.time()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(self.endpoint + self.health_path)
        self.startup_s = time.time() - t0
        time.sleep(0.5)
        self.idle_rss = rss_mb(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def client(self):
        return boto3.client("logs", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")


def signed_put_request(endpoint, group, stream):
    t = int(time.time() * 1000)
    message = "x" * (EVENT_BYTES - 30)
    events = [{"timestamp": t, "message": "%s event %06d" % (message, i)} for i in range(BATCH)]
    body = json.dumps({"logGroupName": group, "logStreamName": stream, "logEvents": events})
    request = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.PutLogEvents"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "logs", "us-east-1").add_auth(request)
    return body, dict(request.headers.items())


def wrk(url, seconds, connections, method="GET", body=None, headers=None):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("wrk.method = %s\n" % json.dumps(method))
    if body is not None:
        script.write("wrk.body = %s\n" % json.dumps(body))
    for k, v in (headers or {}).items():
        script.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
    script.write("""
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%d p99=%d\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
""")
    script.close()
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "-s", script.name, url],
                         capture_output=True, text=True).stdout
    os.unlink(script.name)
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=(\d+) p99=(\d+)", out)
    requests, errors = int(m.group(1)), int(m.group(2))
    return {"rps": (requests - errors) / seconds, "errors": errors, "p50_ms": int(m.group(4)) / 1000.0,
            "p99_ms": int(m.group(5)) / 1000.0}


def load_events(client, group, stream, count, selective_every):
    """Writes `count` events of ~200 B; every `selective_every`-th contains NEEDLE."""
    t0 = int(time.time() * 1000) - 3600 * 1000
    per_call = 4000  # 4000 x (200 + 26) B stays under the 1 MB batch limit
    written = 0
    while written < count:
        n = min(per_call, count - written)
        events = []
        for i in range(written, written + n):
            word = "NEEDLE" if i % selective_every == 0 else "hay"
            events.append({"timestamp": t0 + i // 1000, "message": ("%s %08d " % (word, i)).ljust(EVENT_BYTES, "z")})
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        written += n


def filter_latency(client, group, runs):
    samples = []
    found = 0
    for _ in range(runs):
        t = time.time()
        kwargs = {"logGroupName": group, "filterPattern": "NEEDLE"}
        found = 0
        while True:
            page = client.filter_log_events(**kwargs)
            found += len(page["events"])
            if "nextToken" not in page:
                break
            kwargs["nextToken"] = page["nextToken"]
        samples.append(time.time() - t)
    return statistics.median(samples) * 1000, found


def disk_sync_write_mbps(directory):
    path = os.path.join(directory, "dd.bin")
    out = subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=256", "conv=fdatasync"],
                         capture_output=True, text=True).stderr
    os.unlink(path)
    m = re.search(r"([\d.]+) ([MG])B/s", out)
    return float(m.group(1)) * (1000 if m.group(2) == "G" else 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--filter-events", type=int, default=1_000_000)
    parser.add_argument("--moto-filter-events", type=int, default=200_000)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="vigil-bench-")
    results = {}
    try:
        disk = disk_sync_write_mbps(work)
        vp, mp = free_port(), free_port()
        targets = [
            Target("vigil", [args.vigil, "serve", "--listen", "127.0.0.1:%d" % vp, "--data-dir", os.path.join(work, "data")], vp, "/_vigil/health"),
            Target("moto", ["moto_server", "-p", str(mp)], mp, "/"),
        ]
        for target in targets:
            target.start()
            r = results[target.name] = {"startup_ms": target.startup_s * 1000, "idle_rss_mb": target.idle_rss}
            client = target.client()
            client.create_log_group(logGroupName="bench")
            client.create_log_stream(logGroupName="bench", logStreamName="put")
            body, headers = signed_put_request(target.endpoint, "bench", "put")
            put = wrk(target.endpoint + "/", args.seconds, args.connections, "POST", body, headers)
            r["put_calls_per_s"] = put["rps"]
            r["put_events_per_s"] = put["rps"] * BATCH
            r["put_mb_per_s"] = put["rps"] * BATCH * EVENT_BYTES / 1e6
            r["put_p99_ms"] = put["p99_ms"]
            r["put_errors"] = put["errors"]
            r["http_ceiling_rps"] = wrk(target.endpoint + target.health_path, max(3, args.seconds // 3), args.connections)["rps"]
            n = args.filter_events if target.name == "vigil" else args.moto_filter_events
            client.create_log_stream(logGroupName="bench", logStreamName="scan")
            # A separate group, so the scan covers exactly n events.
            client.create_log_group(logGroupName="scan")
            client.create_log_stream(logGroupName="scan", logStreamName="s")
            t = time.time()
            load_events(client, "scan", "s", n, 10_000)
            r["load_s"] = time.time() - t
            r["filter_events"] = n
            r["filter_ms"], r["filter_found"] = filter_latency(client, "scan", 5)
            r["loaded_rss_mb"] = rss_mb(target.proc.pid)
            target.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    v, m = results["vigil"], results["moto"]
    print("\n## CloudWatch Logs (bench/logs_bench.py, %d s wrk runs, %d connections, %d cores)\n" % (args.seconds, args.connections, os.cpu_count()))
    print("| measure | vigil | moto_server | vigil / moto | vigil vs machine limit |")
    print("|---|---|---|---|---|")
    print("| PutLogEvents events/s (100 x 200 B, durable for vigil) | %.0f | %.0f | %.1fx | %.0f%% of synced disk write (%.0f MB/s) |" % (
        v["put_events_per_s"], m["put_events_per_s"], v["put_events_per_s"] / max(m["put_events_per_s"], 1),
        100 * v["put_mb_per_s"] / disk, disk))
    print("| PutLogEvents payload MB/s | %.1f | %.1f | %.1fx | |" % (v["put_mb_per_s"], m["put_mb_per_s"], v["put_mb_per_s"] / max(m["put_mb_per_s"], 1e-9)))
    print("| PutLogEvents calls/s | %.0f | %.0f | | %.0f%% of the HTTP ceiling (%.0f req/s to a trivial endpoint) |" % (
        v["put_calls_per_s"], m["put_calls_per_s"], 100 * v["put_calls_per_s"] / v["http_ceiling_rps"], v["http_ceiling_rps"]))
    print("| PutLogEvents p99 latency ms | %.1f | %.1f | | |" % (v["put_p99_ms"], m["put_p99_ms"]))
    print("| FilterLogEvents, selective term, ms (median of 5) | %.0f over %d events | %.0f over %d events | %.1fx faster per event | |" % (
        v["filter_ms"], v["filter_events"], m["filter_ms"], m["filter_events"],
        (m["filter_ms"] / m["filter_events"]) / max(v["filter_ms"] / v["filter_events"], 1e-9)))
    print("| idle RSS MB | %.1f | %.1f | | |" % (v["idle_rss_mb"], m["idle_rss_mb"]))
    print("| RSS after load MB | %.1f | %.1f | | |" % (v["loaded_rss_mb"], m["loaded_rss_mb"]))
    print("| exec to first accepted request ms | %.0f | %.0f | | |" % (v["startup_ms"], m["startup_ms"]))
    print("\nraw:", json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
