#!/usr/bin/env python3
"""End-to-end CloudWatch metrics benchmark: Vigil and moto_server, same workloads, one run.

  python3 bench/metrics_bench.py [--vigil build/vigil] [--store-bench build/bench/metrics_store_bench]
                                 [--seconds 10] [--connections 32]

Workloads
- PutMetricData: one call = 1 000 MetricData entries (10 metric names x 100 Host dimension
  values, AWS's per-call maximum), each with one Value; a "datapoint" is one such value. The
  same signed call is replayed by wrk (C, not boto3, so the load generator is not the
  bottleneck): a SigV4 signature stays valid for 15 minutes and AWS accepts replays. Four wire
  encodings: awsJson 1.0 with x-amzn-query-mode (what boto3 1.43 sends, captured from boto3
  itself), rpc-v2-cbor (boto3 forced onto it through a model copy), and query (form-encoded,
  what older SDKs and AWS CLI v2 before 2.2x send).
  Vigil acknowledges a call only after it is fsync'ed; moto keeps it in memory.
- GetMetricData: 10 series x 24 h at 60 s (1 440 points each, put first with timestamps in
  the last 24 h), one call asking for all 10 series' Average over 24 h at a 60 s period,
  replayed by wrk on one connection: latency p50/p99 at the server.
- Bytes on disk per datapoint: bench/metrics_store_bench (C++, through MetricStore): N
  series x 1 440 minutes, RocksDB flushed and fully compacted, raw and after
  MetricStore::compact() packed the settled points.
The machine's own limits are measured in the same run: the HTTP ceiling (wrk against a
trivial endpoint of the same server) and the disk's synced sequential write speed (dd).
Prints a markdown table for docs/performance.md.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import boto3
import botocore.auth
import botocore.config
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logs_bench import Target, disk_sync_write_mbps, free_port, rss_mb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
METRICS, HOSTS = 10, 100
PER_CALL = METRICS * HOSTS
PROTOCOLS = {"json": "awsJson 1.0 + x-amzn-query-mode, gzip body (boto3 1.43's default)",
             "jsonplain": "awsJson 1.0 + x-amzn-query-mode, uncompressed",
             "cbor": "rpc-v2-cbor, gzip body (boto3 1.43 with a model that lists only CBOR)",
             "query": "query (form), uncompressed"}


class MetricsTarget(Target):
    def client(self, compress=True):
        # boto3 gzips request bodies over 10 KB by default (PutMetricData's Content-Encoding).
        return boto3.client("cloudwatch", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=botocore.config.Config(disable_request_compression=not compress))


def cbor_client(endpoint, work):
    """boto3 speaking rpc-v2-cbor, which it picks only when the model lists nothing else: a copy
    of the model with protocols = [smithy-rpc-v2-cbor] on a session of its own."""
    import botocore.session
    session = botocore.session.get_session()
    model = session.get_component("data_loader").load_service_model("cloudwatch", "service-2")
    if "smithy-rpc-v2-cbor" not in model["metadata"].get("protocols", []):
        return None
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
    folder = os.path.join(work, "models", "cloudwatch", "2010-08-01")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "service-2.json"), "w") as f:
        json.dump(model, f)
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, os.path.join(work, "models"))
    return session.create_client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1",
                                 aws_access_key_id="test", aws_secret_access_key="test")


def captured_request(client, operation, **kwargs):
    """What boto3 sends for one call (method, headers, body), without sending it."""
    captured = {}

    def hook(request, **_):
        captured["request"] = request
        return botocore.awsrequest.AWSResponse(request.url, 599, {}, None)

    event = "before-send.cloudwatch.%s" % operation
    client.meta.events.register(event, hook)
    try:
        getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(**kwargs)
    except Exception:
        pass  # the stub response is not a valid answer; the request was captured
    client.meta.events.unregister(event, hook)
    request = captured["request"]
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    headers.pop("Content-Length", None)
    # rpc-v2-cbor posts to /service/<service>/operation/<op>; the signature covers the path.
    headers[PATH_HEADER] = urllib.parse.urlsplit(request.url).path or "/"
    return body, headers


def put_metric_data(now):
    return [{"MetricName": "M%d" % (i % METRICS), "Dimensions": [{"Name": "Host", "Value": "h%03d" % (i // METRICS)}],
             "Value": round(20 + (i * 37 % 600) / 10.0, 1), "Unit": "Percent", "Timestamp": now} for i in range(PER_CALL)]


def signed_query_put(endpoint, now):
    form = [("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", "Bench")]
    for n, d in enumerate(put_metric_data(now), 1):
        p = "MetricData.member.%d." % n
        form += [(p + "MetricName", d["MetricName"]), (p + "Dimensions.member.1.Name", "Host"),
                 (p + "Dimensions.member.1.Value", d["Dimensions"][0]["Value"]), (p + "Value", repr(d["Value"])),
                 (p + "Unit", d["Unit"]), (p + "Timestamp", now.strftime("%Y-%m-%dT%H:%M:%SZ"))]
    body = urllib.parse.urlencode(form).encode()
    request = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "monitoring", "us-east-1").add_auth(request)
    return body, dict(request.headers.items())


PATH_HEADER = "x-bench-path"  # where a captured request goes; stripped before sending


def send_once(endpoint, body, headers):
    headers = dict(headers)
    path = headers.pop(PATH_HEADER, "/")
    request = urllib.request.Request(endpoint + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wrk(url, seconds, connections, threads, method="GET", body=None, headers=None):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("wrk.method = %s\n" % json.dumps(method))
    if body is not None:  # bytes (gzip bodies are binary): Lua decimal escapes
        script.write('wrk.body = "%s"\n' % "".join("\\%d" % b for b in body))
    for k, v in (headers or {}).items():
        if k == PATH_HEADER:
            continue
        script.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
    script.write("""
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%d p99=%d\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
""")
    script.close()
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "30s", "-s", script.name, url],
                         capture_output=True, text=True).stdout
    os.unlink(script.name)
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=(\d+) p99=(\d+)", out)
    requests, errors = int(m.group(1)), int(m.group(2))
    return {"rps": (requests - errors) / seconds, "requests": requests, "errors": errors,
            "p50_ms": int(m.group(4)) / 1000.0, "p99_ms": int(m.group(5)) / 1000.0}


def load_day(client, now):
    """10 series (M0..M9, Host=q) x 1 440 minutes ending at `now`."""
    start = now - datetime.timedelta(days=1)
    data = []
    for m in range(1440):
        for s in range(10):
            data.append({"MetricName": "M%d" % s, "Dimensions": [{"Name": "Host", "Value": "q"}],
                         "Timestamp": start + datetime.timedelta(minutes=m), "Value": float((m * 7 + s) % 100)})
    for i in range(0, len(data), PER_CALL):
        client.put_metric_data(Namespace="Query", MetricData=data[i:i + PER_CALL])
    return start


def get_queries(start, end):
    return dict(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "m%d" % s, "MetricStat": {"Metric": {"Namespace": "Query", "MetricName": "M%d" % s,
                                                   "Dimensions": [{"Name": "Host", "Value": "q"}]},
                                        "Period": 60, "Stat": "Average"}} for s in range(10)])


def measure_get(target, r, key, seconds, settle_s=0):
    """GetMetricData of 10 series x 24 h at 60 s (uncompressed: moto answers 500 to gzip
    bodies), replayed by wrk on one connection, into r[key + "_p50_ms"] etc."""
    client = target.client(compress=False)
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    start = load_day(client, now)
    time.sleep(settle_s)
    answer = client.get_metric_data(**get_queries(start, now))
    r[key + "_points"] = sum(len(q["Values"]) for q in answer["MetricDataResults"])
    body, headers = captured_request(client, "GetMetricData", **get_queries(start, now))
    status, _ = send_once(target.endpoint, body, headers)
    r[key + "_status"] = status
    if status == 200:
        get = wrk(target.endpoint + headers.get(PATH_HEADER, "/"), max(5, seconds), 1, 1, "POST", body, headers)
        r[key + "_calls_per_s"] = get["rps"]
        r[key + "_p50_ms"], r[key + "_p99_ms"], r[key + "_errors"] = get["p50_ms"], get["p99_ms"], get["errors"]


def store_bench(path, series):
    out = {}
    for kind in ("cpu1", "cpu2", "int", "counter", "mixed", "random"):
        for lag in (0, 120):
            r = subprocess.run([path, "--series", str(series), "--minutes", "1440", "--lag-minutes", str(lag), "--kind", kind],
                               capture_output=True, text=True, check=True)
            out["%s/%d" % (kind, lag)] = json.loads(r.stdout)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    parser.add_argument("--store-bench", default=os.path.join(ROOT, "build", "bench", "metrics_store_bench"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--disk-series", type=int, default=1000)
    parser.add_argument("--skip-moto", action="store_true", help="while iterating: Vigil only (the recorded run has both)")
    parser.add_argument("--skip-disk", action="store_true", help="while iterating: no bytes-on-disk runs")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="vigil-metrics-bench-")
    results = {}
    try:
        disk = disk_sync_write_mbps(work)
        vp, mp = free_port(), free_port()
        targets = [
            MetricsTarget("vigil", [args.vigil, "serve", "--listen", "127.0.0.1:%d" % vp, "--data-dir", os.path.join(work, "data")], vp, "/_vigil/health"),
            MetricsTarget("moto", ["moto_server", "-p", str(mp)], mp, "/"),
        ]
        if args.skip_moto:
            targets = targets[:1]
        for target in targets:
            target.start()
            r = results[target.name] = {"startup_ms": target.startup_s * 1000, "idle_rss_mb": target.idle_rss}
            # The HTTP ceiling and GetMetricData first: a server still working through a
            # backlog of PutMetricData calls (moto, after wrk stops) would distort them.
            r["http_ceiling_rps"] = wrk(target.endpoint + target.health_path, max(3, args.seconds // 3), args.connections, 2)["rps"]
            # GetMetricData right after a backfill of the day: every point is still a raw record.
            t = time.time()
            measure_get(target, r, "get", args.seconds)
            r["load_day_s"] = time.time() - t
            if target.name == "vigil":
                # The same day once settled: a second server that packs points older than 2 h
                # (what its 10-minute compaction job does to a day of live data) every second.
                settled = MetricsTarget("vigil-settled", target.args[:-1] + [os.path.join(work, "settled"), "--metric-compaction-interval", "1"],
                                        free_port(), target.health_path)
                settled.args[settled.args.index("--listen") + 1] = "127.0.0.1:%d" % settled.port
                settled.start()
                measure_get(settled, r, "get_settled", args.seconds, settle_s=3)
                settled.stop()
            client = target.client()
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            for protocol in PROTOCOLS:
                if protocol == "json":
                    body, headers = captured_request(client, "PutMetricData", Namespace="Bench", MetricData=put_metric_data(now))
                elif protocol == "cbor":
                    cbor = cbor_client(target.endpoint, work)
                    if cbor is None:
                        r["put_cbor_status"] = "this botocore has no rpc-v2-cbor"
                        continue
                    body, headers = captured_request(cbor, "PutMetricData", Namespace="Bench", MetricData=put_metric_data(now))
                elif protocol == "jsonplain":
                    body, headers = captured_request(target.client(compress=False), "PutMetricData", Namespace="Bench",
                                                     MetricData=put_metric_data(now))
                else:
                    body, headers = signed_query_put(target.endpoint, now)
                status, answer = send_once(target.endpoint, body, headers)
                r["put_%s_status" % protocol] = status
                r["put_%s_body_bytes" % protocol] = len(body)
                if status != 200:
                    r["put_%s_error" % protocol] = answer[:300].decode(errors="replace")
                    print(target.name, protocol, status, r["put_%s_error" % protocol], file=sys.stderr)
                    continue
                put = wrk(target.endpoint + headers.get(PATH_HEADER, "/"), args.seconds, args.connections, 2, "POST", body, headers)
                r["put_%s_calls_per_s" % protocol] = put["rps"]
                r["put_%s_points_per_s" % protocol] = put["rps"] * PER_CALL
                r["put_%s_p99_ms" % protocol] = put["p99_ms"]
                r["put_%s_errors" % protocol] = put["errors"]
                r["put_%s_requests" % protocol] = put["requests"]
                time.sleep(1 if target.name == "vigil" else 10)  # let a backlog drain before the next run
            r["loaded_rss_mb"] = rss_mb(target.proc.pid)
            target.stop()
        if os.path.exists(args.store_bench) and not args.skip_disk:
            results["disk"] = store_bench(args.store_bench, args.disk_series)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    v, m = results["vigil"], results.get("moto", {"idle_rss_mb": 0, "loaded_rss_mb": 0})

    def cell(d, key, fmt="%.0f"):
        if key in d and d[key] == 0 and "p99" not in key:
            return "0 (no call completed in the run)"
        return fmt % d[key] if key in d else "n/a (%s)" % d.get(key.replace("points_per_s", "status").replace("calls_per_s", "status"), "-")

    print("\n## CloudWatch metrics (bench/metrics_bench.py, %d s wrk runs, %d connections, %d cores)\n" % (args.seconds, args.connections, os.cpu_count()))
    print("| measure | vigil | moto_server | vigil / moto | vigil vs machine limit |")
    print("|---|---|---|---|---|")
    for protocol, label in PROTOCOLS.items():
        key = "put_%s_points_per_s" % protocol
        ratio = "%.1fx" % (v[key] / m[key]) if m.get(key) and key in v else ""
        calls = v.get("put_%s_calls_per_s" % protocol, 0)
        print("| PutMetricData datapoints/s, %s, 1 000 datapoints per call (%d B body) | %s | %s | %s | %.0f calls/s = %.0f%% of the HTTP ceiling (%.0f req/s) |" % (
            label, v["put_%s_body_bytes" % protocol], cell(v, key), cell(m, key), ratio, calls, 100 * calls / v["http_ceiling_rps"], v["http_ceiling_rps"]))
        print("| PutMetricData p99 ms, %s | %s | %s | | |" % (label, cell(v, "put_%s_p99_ms" % protocol, "%.1f"), cell(m, "put_%s_p99_ms" % protocol, "%.1f")))
    print("| GetMetricData 10 series x 24 h at 60 s (%d points) just after a backfill (all raw records), p50 / p99 ms | %s / %s | %s / %s | | |" % (
        v["get_points"], cell(v, "get_p50_ms", "%.2f"), cell(v, "get_p99_ms", "%.2f"), cell(m, "get_p50_ms", "%.1f"), cell(m, "get_p99_ms", "%.1f")))
    print("| GetMetricData, the same day settled (points older than 2 h packed, as after the compaction job), p50 / p99 ms | %s / %s | | | |" % (
        cell(v, "get_settled_p50_ms", "%.2f"), cell(v, "get_settled_p99_ms", "%.2f")))
    print("| idle RSS MB | %.1f | %.1f | | |" % (v["idle_rss_mb"], m["idle_rss_mb"]))
    print("| RSS after the PutMetricData runs MB | %.1f | %.1f | | |" % (v["loaded_rss_mb"], m["loaded_rss_mb"]))
    print("| synced disk write (dd) | %.0f MB/s | | | |" % disk)
    if "disk" in results:
        print("\n### Bytes on disk per datapoint (%d series x 1 440 minutes, one value per minute; RocksDB flushed + fully compacted)\n" % args.disk_series)
        print("| values | raw records | after compact(), last 2 h still raw | after compact(), all settled (now = last point + 2 h) | compact() points/s |")
        print("|---|---|---|---|---|")
        for kind, label in (("cpu1", "CPU %, 1 decimal, steps <= 0.5"), ("cpu2", "CPU %, 2 decimals, steps <= 1.00"),
                            ("int", "integer gauge, steps <= 3"), ("counter", "integer rate ~600 +- 70"),
                            ("mixed", "the four above, 1/4 each"), ("random", "random doubles (no decimal structure)")):
            a, b = results["disk"]["%s/0" % kind], results["disk"]["%s/120" % kind]
            print("| %s | %.2f | %.2f | %.2f | %.0f |" % (label, a["raw_bytes_per_point"], a["packed_bytes_per_point"],
                                                     b["packed_bytes_per_point"], b["compact_points_per_s"]))
    print("\nraw:", json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
