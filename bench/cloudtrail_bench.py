#!/usr/bin/env python3
"""CloudTrail and S3 benchmark: Vigil and moto_server, same workloads, one run.

  python3 bench/cloudtrail_bench.py [--vigil build/vigil] [--loader build/bench/audit_history_bench]
                                    [--events 10000000] [--deliver-events 1000000] [--seconds 10]

Workloads
- Recorder overhead: the same signed management call (CloudWatch Logs DescribeLogGroups,
  which CloudTrail records), replayed by wrk on 32 connections against two Vigil servers, one
  with the audit recorder on (the default) and one with `record_api_calls = false`. The loss
  is 1 - on/off. moto runs the same call (it records nothing).
- LookupEvents over N stored events: bench/audit_history_bench writes N management events
  (80 days, 10 users; 1 in 1 000 a DeleteLogGroup by "auditor") through the recorder into a
  data directory, then `vigil serve` opens it and wrk replays one signed LookupEvents on one
  connection: by Username (the rare user: 1 in 1 000) and by EventName (a common one), 50
  results per page. moto answers the same calls over its own (empty) history.
- Delivery: audit_history_bench records M events for one logging trail, then one delivery
  run writes them as gzip log files to S3: events/s, files/s, bytes.
- S3: PutObject and GetObject of one 16 MiB object replayed by wrk (4 connections): MB/s,
  against the disk's own sequential write (dd, synced) and read (dd) speeds, measured here.
Prints a markdown table for docs/performance.md and the raw figures as JSON.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import boto3
import botocore.awsrequest
import botocore.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logs_bench import Target, disk_sync_write_mbps, free_port, rss_mb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OBJECT_BYTES = 16 << 20


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=botocore.config.Config(request_checksum_calculation="when_required",
                                                      s3={"addressing_style": "path"}))


def captured(c, operation, **kwargs):
    """What boto3 sends for one call (method, url, headers, body), without sending it."""
    got = {}

    def hook(request, **_):
        got["request"] = request
        return botocore.awsrequest.AWSResponse(request.url, 599, {}, None)

    c.meta.events.register("before-send", hook)
    try:
        getattr(c, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(**kwargs)
    except Exception:
        pass  # the stub answer is not valid; the request was captured
    c.meta.events.unregister("before-send", hook)
    r = got["request"]
    body = r.body if isinstance(r.body, bytes) or r.body is None else (r.body.read() if hasattr(r.body, "read") else r.body.encode())
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()}
    headers.pop("Content-Length", None)
    headers.pop("Expect", None)  # wrk would take the interim 100 Continue for the answer
    return r.method, r.url, headers, body or b""


def wrk(url, seconds, connections, method, headers, body, work):
    """wrk replaying one request; the body is read from a file (it can be 16 MiB)."""
    body_path = os.path.join(work, "wrk-body.bin")
    with open(body_path, "wb") as f:
        f.write(body)
    script = os.path.join(work, "wrk.lua")
    with open(script, "w") as f:
        f.write("wrk.method = %s\n" % json.dumps(method))
        f.write("local f = io.open(%s, 'rb'); wrk.body = f:read('*a'); f:close()\n" % json.dumps(body_path))
        for k, v in headers.items():
            f.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
        f.write("""
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%d p99=%d\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
""")
    threads = min(2, connections)
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "30s", "-s", script, url],
                         capture_output=True, text=True).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=(\d+) p99=(\d+)", out)
    requests, errors = int(m.group(1)), int(m.group(2))
    return {"rps": (requests - errors) / seconds, "requests": requests, "errors": errors,
            "p50_ms": int(m.group(4)) / 1000.0, "p99_ms": int(m.group(5)) / 1000.0}


def replay(target, service, operation, seconds, connections, work, **kwargs):
    method, url, headers, body = captured(client(target.endpoint, service), operation, **kwargs)
    return wrk(url, seconds, connections, method, headers, body, work)


def disk_read_mbps(directory):
    path = os.path.join(directory, "dd-read.bin")
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=256", "conv=fdatasync"], capture_output=True)
    out = subprocess.run(["dd", "if=" + path, "of=/dev/null", "bs=1M"], capture_output=True, text=True).stderr
    os.unlink(path)
    m = re.search(r"([\d.]+) ([MG])B/s", out)
    return float(m.group(1)) * (1000 if m.group(2) == "G" else 1)


def vigil_target(args, work, name, data_dir, config=None):
    port = free_port()
    argv = [args.vigil, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", data_dir]
    if config is not None:
        path = os.path.join(work, name + ".toml")
        with open(path, "w") as f:
            f.write(config)
        argv += ["--config", path]
    return Target(name, argv, port, "/_vigil/health")


def cpu_seconds(pid):
    """The process's user + system CPU so far (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def recorder_rounds(args):
    """DescribeLogGroups against a server with the recorder on and one with it off, both loaded at
    the same time (16 connections each), round after round. On a shared VM the CPU a call costs
    swings by tens of percent from minute to minute (steal, neighbours' caches); measured in
    the same seconds, both servers see the same swing, so each round's ratio of CPU per call
    is what the recorder costs a CPU-bound server: loss = 1 - off/on. The median over the
    rounds is the figure; calls/s are shown too (they also depend on how the scheduler shares
    the cores between the two servers' threads)."""
    import statistics
    import threading
    work = tempfile.mkdtemp(prefix="vigil-recorder-bench-")
    try:
        on = vigil_target(args, work, "vigil", os.path.join(work, "on"))
        if args.against:
            # Two builds, both recording: "off" is the other build, and the loss is what this
            # build costs more per call than it (negative: it costs less).
            other = argparse.Namespace(**dict(vars(args), vigil=args.against))
            off = vigil_target(other, work, "vigil_other", os.path.join(work, "off"))
            print("this build: %s; against: %s (both recording)" % (args.vigil, args.against))
        else:
            off = vigil_target(args, work, "vigil_off", os.path.join(work, "off"), "record_api_calls = false\n")
        for target in (on, off):
            target.start()
            client(target.endpoint, "logs").create_log_group(logGroupName="/bench/group")
        print("| round | recorder on | recorder off | server CPU per call, on / off | loss (CPU per call) |")
        print("|---|---|---|---|---|")
        losses = []
        for i in range(args.recorder_rounds):
            got = {}
            cpu0 = {name: cpu_seconds(t.proc.pid) for name, t in (("on", on), ("off", off))}

            def load(name, target):
                sub = os.path.join(work, name)
                os.makedirs(sub, exist_ok=True)
                got[name] = replay(target, "logs", "DescribeLogGroups", args.seconds, 16, sub)

            threads = [threading.Thread(target=load, args=(n, t)) for n, t in (("on", on), ("off", off))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for name, target in (("on", on), ("off", off)):
                got[name]["cpu_us"] = (cpu_seconds(target.proc.pid) - cpu0[name]) / max(1, got[name]["requests"]) * 1e6
            loss = 100 * (1 - got["off"]["cpu_us"] / got["on"]["cpu_us"])
            losses.append(loss)
            print("| %d | %.0f calls/s | %.0f calls/s | %.1f / %.1f us | %.1f%% |" % (
                i + 1, got["on"]["rps"], got["off"]["rps"], got["on"]["cpu_us"], got["off"]["cpu_us"], loss), flush=True)
        print("median loss over %d rounds: %.1f%% (min %.1f%%, max %.1f%%)" % (
            len(losses), statistics.median(losses), min(losses), max(losses)))
        for target in (on, off):
            target.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    parser.add_argument("--loader", default=os.path.join(ROOT, "build", "bench", "audit_history_bench"))
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--deliver-events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-moto", action="store_true", help="while iterating: Vigil only (the recorded run has both)")
    parser.add_argument("--recorder-rounds", type=int, default=0,
                        help="only the recorder's cost: this many rounds loading two servers at once, recorder on and off")
    parser.add_argument("--against", help="with --recorder-rounds: compare --vigil with this other build (both recording) instead")
    args = parser.parse_args()
    if args.recorder_rounds:
        return recorder_rounds(args)

    work = tempfile.mkdtemp(prefix="vigil-cloudtrail-bench-")
    r = {"vigil": {}, "moto": {}}
    try:
        r["disk_write_mbps"] = disk_sync_write_mbps(work)
        r["disk_read_mbps"] = disk_read_mbps(work)
        targets = [("vigil", vigil_target(args, work, "vigil", os.path.join(work, "on"))),
                   ("vigil_off", vigil_target(args, work, "vigil_off", os.path.join(work, "off"), "record_api_calls = false\n"))]
        if not args.skip_moto:
            mp = free_port()
            targets.append(("moto", Target("moto", ["moto_server", "-p", str(mp)], mp, "/")))
        for name, target in targets:
            target.start()
            out = r.setdefault(name, {})
            logs = client(target.endpoint, "logs")
            logs.create_log_group(logGroupName="/bench/group")
            out["describe_log_groups"] = replay(target, "logs", "DescribeLogGroups", args.seconds, 32, work)
            if name != "vigil_off":
                s3 = client(target.endpoint, "s3")
                s3.create_bucket(Bucket="bench-bucket")
                payload = os.urandom(OBJECT_BYTES)
                put = replay(target, "s3", "PutObject", args.seconds, 4, work, Bucket="bench-bucket", Key="object", Body=payload)
                out["put_object"] = put
                out["put_object_mbps"] = put["rps"] * OBJECT_BYTES / 1e6
                s3.put_object(Bucket="bench-bucket", Key="object", Body=payload)
                got = s3.get_object(Bucket="bench-bucket", Key="object")["Body"].read()
                out["get_object_ok"] = got == payload
                get = replay(target, "s3", "GetObject", args.seconds, 4, work, Bucket="bench-bucket", Key="object")
                out["get_object"] = get
                out["get_object_mbps"] = get["rps"] * OBJECT_BYTES / 1e6
                if name == "moto":  # LookupEvents over moto's own history (it keeps none)
                    for key, value in (("Username", "auditor"), ("EventName", "CreateLogGroup")):
                        out["lookup_" + key] = replay(target, "cloudtrail", "LookupEvents", args.seconds, 1, work,
                                                      LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
            out["rss_mb"] = rss_mb(target.proc.pid)
            target.stop()

        # LookupEvents over N stored events.
        history = os.path.join(work, "history")
        t = time.time()
        r["load"] = json.loads(subprocess.run([args.loader, "load", "--data-dir", history, "--events", str(args.events)],
                                              capture_output=True, text=True, check=True).stdout)
        r["load"]["wall_s"] = time.time() - t
        target = vigil_target(args, work, "vigil_history", history)
        target.start()
        ct = client(target.endpoint, "cloudtrail")
        for key, value in (("Username", "auditor"), ("EventName", "CreateLogGroup")):
            page = ct.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
            r["vigil"]["lookup_%s_results" % key] = len(page["Events"])
            r["vigil"]["lookup_" + key] = replay(target, "cloudtrail", "LookupEvents", args.seconds, 1, work,
                                                 LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        target.stop()
        shutil.rmtree(history, ignore_errors=True)

        # Delivery of M recorded events as log files.
        r["deliver"] = json.loads(subprocess.run([args.loader, "deliver", "--work", os.path.join(work, "deliver"), "--events",
                                                  str(args.deliver_events)], capture_output=True, text=True, check=True).stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    v, m, off = r["vigil"], r["moto"], r["vigil_off"]

    def rate(d, key, field="rps"):
        return "%.0f" % d[key][field] if key in d else "n/a"

    def ms(d, key):
        return "%.2f / %.2f" % (d[key]["p50_ms"], d[key]["p99_ms"]) if key in d and d[key]["requests"] > d[key]["errors"] else "n/a"

    on_rps, off_rps = v["describe_log_groups"]["rps"], off["describe_log_groups"]["rps"]
    print("\n## CloudTrail and S3 (bench/cloudtrail_bench.py, %d s wrk runs, %d cores)\n" % (args.seconds, os.cpu_count()))
    print("| measure | vigil | moto_server | vigil / moto | vigil vs machine limit |")
    print("|---|---|---|---|---|")
    print("| DescribeLogGroups calls/s, audit recorder on (32 connections) | %.0f | %s | %s | recorder off: %.0f calls/s, loss %.1f%% |" % (
        on_rps, rate(m, "describe_log_groups"), "%.1fx" % (on_rps / m["describe_log_groups"]["rps"]) if m.get("describe_log_groups", {}).get("rps") else "",
        off_rps, 100 * (1 - on_rps / off_rps)))
    for key, what in (("Username", "Username (1 in 1 000 events)"), ("EventName", "EventName (a common one)")):
        print("| LookupEvents by %s over %d stored events, 50 per page, p50 / p99 ms | %s | %s (its own empty history) | | |" % (
            what, r["load"]["events"], ms(v, "lookup_" + key), ms(m, "lookup_" + key)))
    print("| events recorded into the history (in-process, one thread) | %.0f events/s, %.0f B on disk per event | | | |" % (
        r["load"]["events_per_s"], r["load"]["bytes_on_disk"] / r["load"]["events"]))
    d = r["deliver"]
    print("| trail delivery of %d events | %.0f events/s, %d files (%.1f files/s), %.1f MB gzip | | | |" % (
        d["events"], d["events_per_s"], d["files"], d["files_per_s"], d["bytes"] / 1e6))
    for op, disk in (("put_object", r["disk_write_mbps"]), ("get_object", r["disk_read_mbps"])):
        print("| S3 %s MB/s, 16 MiB object, 4 connections | %.0f | %s | %s | %.0f%% of the disk's %.0f MB/s (dd) |" % (
            "PutObject" if op == "put_object" else "GetObject", v[op + "_mbps"], "%.0f" % m[op + "_mbps"] if op + "_mbps" in m else "n/a",
            "%.1fx" % (v[op + "_mbps"] / m[op + "_mbps"]) if m.get(op + "_mbps") else "", 100 * v[op + "_mbps"] / disk, disk))
    print("\nraw: " + json.dumps(r))


if __name__ == "__main__":
    main()
