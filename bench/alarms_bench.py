#!/usr/bin/env python3
"""CloudWatch alarm evaluation benchmark: Vigil and moto_server, same workloads, one run.

  python3 bench/alarms_bench.py [--vigil build/vigil] [--alarms 10000] [--window 120]

Workloads
- N metric alarms (GreaterThanThreshold on Average, period 60, one evaluation period), each on
  its own series (one dimension value per alarm) holding a datapoint in the current minute;
  half of the series are above the threshold, so half of the alarms transition to ALARM.
- Evaluation cost: the server's CPU time (utime + stime from /proc) over a --window of
  seconds in which nothing but the scheduler runs. Vigil evaluates every alarm once a minute,
  as AWS does, so the window holds window/60 x N evaluations. The result is the share of one
  core the evaluation takes (target: 10 000 alarms/minute in < 5% of one core), against the
  same server's idle CPU measured over a window before the alarms exist (the machine's own
  floor in the same run).
- PutMetricAlarm calls/s (8 boto3 threads) and DescribeAlarms latency (pages of 100) against
  moto_server, which stores alarms but never evaluates them.
Prints a markdown table for docs/performance.md.
"""
import argparse
import concurrent.futures
import os
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def wait_until_up(url, deadline=30.0):
    start = time.time()
    while time.time() - start < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception as e:
            if hasattr(e, "code"):
                return
            time.sleep(0.01)
    raise RuntimeError("server at %s did not come up" % url)


class Target:
    def __init__(self, name, args, port, health_path):
        self.name, self.args, self.port, self.health_path = name, args, port, health_path
        self.endpoint = "http://127.0.0.1:%d" % port

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(self.endpoint + self.health_path)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def client(self):
        return boto3.client("cloudwatch", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")


def load_series(target, n):
    cw = target.client()
    for start in range(0, n, 1000):
        data = [{"MetricName": "Load", "Dimensions": [{"Name": "Host", "Value": "h%06d" % i}],
                 "Value": 90.0 if i % 2 else 10.0} for i in range(start, min(n, start + 1000))]
        cw.put_metric_data(Namespace="Bench", MetricData=data)


def create_alarms(target, n, threads=8):
    def work(lo, hi):
        cw = target.client()
        for i in range(lo, hi):
            cw.put_metric_alarm(AlarmName="alarm-%06d" % i, Namespace="Bench", MetricName="Load",
                                Dimensions=[{"Name": "Host", "Value": "h%06d" % i}], Statistic="Average", Period=60,
                                EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanThreshold")
    t0 = time.time()
    step = (n + threads - 1) // threads
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda lo: work(lo, min(n, lo + step)), range(0, n, step)))
    return n / (time.time() - t0)


def describe_latency(target, runs=50):
    cw = target.client()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cw.describe_alarms(AlarmNamePrefix="alarm-", MaxRecords=100)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def count_in_alarm(target):
    cw = target.client()
    count, token = 0, None
    while True:
        kwargs = {"StateValue": "ALARM", "MaxRecords": 100}
        if token:
            kwargs["NextToken"] = token
        page = cw.describe_alarms(**kwargs)
        count += len(page["MetricAlarms"])
        token = page.get("NextToken")
        if not token:
            return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"))
    parser.add_argument("--alarms", type=int, default=10000)
    parser.add_argument("--window", type=int, default=120)
    args = parser.parse_args()
    results = {}
    data_dir = tempfile.mkdtemp(prefix="vigil-alarms-bench-")
    try:
        port = free_port()
        vigil = Target("vigil", [args.vigil, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", data_dir], port, "/_vigil/health")
        vigil.start()
        r = results["vigil"] = {}
        c0 = cpu_seconds(vigil.proc.pid)
        time.sleep(min(30, args.window))
        r["idle_core_share"] = (cpu_seconds(vigil.proc.pid) - c0) / min(30, args.window)
        load_series(vigil, args.alarms)
        r["put_alarm_rps"] = create_alarms(vigil, args.alarms)
        r["describe_ms"] = describe_latency(vigil)
        # Let the first evaluation of every alarm pass (each is due at its first tick), then measure.
        time.sleep(5)
        r["in_alarm_after_first_pass"] = count_in_alarm(vigil)
        c0, t0 = cpu_seconds(vigil.proc.pid), time.time()
        time.sleep(args.window)
        elapsed = time.time() - t0
        r["window_core_share"] = (cpu_seconds(vigil.proc.pid) - c0) / elapsed
        r["evaluations"] = args.alarms * elapsed / 60.0
        vigil.stop()

        moto_bin = shutil.which("moto_server")
        if moto_bin:
            port = free_port()
            moto = Target("moto", [moto_bin, "-p", str(port)], port, "/")
            moto.start()
            m = results["moto"] = {}
            try:
                load_series(moto, args.alarms)
            except Exception as e:  # moto 5 answers boto3 1.43's awsJson PutMetricData with a 500
                m["put_metric_data_error"] = str(e).split("\n")[0][:80]
            m["put_alarm_rps"] = create_alarms(moto, args.alarms)
            m["describe_ms"] = describe_latency(moto)
            m["in_alarm_after_first_pass"] = count_in_alarm(moto)
            moto.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    v, m = results["vigil"], results.get("moto", {})
    eval_share = max(0.0, v["window_core_share"] - v["idle_core_share"])
    print("\n## CloudWatch alarms (bench/alarms_bench.py, %d alarms, %d s window, %d cores)\n" % (args.alarms, args.window, os.cpu_count()))
    print("| measure | vigil | moto_server | vigil / moto | vigil vs machine limit |")
    print("|---|---|---|---|---|")
    print("| alarm evaluations per minute | %d | 0 (moto never evaluates) | | |" % args.alarms)
    print("| CPU while evaluating (share of one core) | %.2f%% | | | idle floor %.2f%%, evaluation alone %.2f%% |"
          % (100 * v["window_core_share"], 100 * v["idle_core_share"], 100 * eval_share))
    print("| CPU per alarm evaluation | %.1f us | | | |" % (1e6 * eval_share * args.window / max(1.0, v["evaluations"])))
    print("| alarms in ALARM after the first pass (expected %d) | %d | %s | | |"
          % (args.alarms // 2, v["in_alarm_after_first_pass"], m.get("in_alarm_after_first_pass", "n/a")))
    if m:
        print("| PutMetricAlarm calls/s (8 boto3 threads) | %.0f | %.0f | %.1fx | |" % (v["put_alarm_rps"], m["put_alarm_rps"], v["put_alarm_rps"] / m["put_alarm_rps"]))
        print("| DescribeAlarms (100 per page) p50 / p99 ms | %.1f / %.1f | %.1f / %.1f | %.1fx (p50) | |"
              % (v["describe_ms"] + m["describe_ms"] + (m["describe_ms"][0] / v["describe_ms"][0],)))


if __name__ == "__main__":
    sys.exit(main())
