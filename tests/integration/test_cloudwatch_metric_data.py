"""GetMetricData (MetricStat, metric math, SEARCH, paging), extended statistics (percentiles
from the sketch) and the dashboards API, through boto3 and the AWS CLI."""
import datetime
import json
import random
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase


def minute_floor(dt):
    return dt.replace(second=0, microsecond=0)


def utc(seconds_from_now=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)


def stat(mid, name, stat_name="Sum", period=60, dims=(), return_data=True, label=None):
    q = {"Id": mid, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": name, "Dimensions": list(dims)},
                                   "Period": period, "Stat": stat_name}, "ReturnData": return_data}
    if label:
        q["Label"] = label
    return q


class CloudWatchMetricData(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.cw = self.server.client("cloudwatch")
        self.base = minute_floor(utc(-3600))

    def at(self, minutes, seconds=1):
        return self.base + datetime.timedelta(minutes=minutes, seconds=seconds)

    def put(self, name, points, dims=()):
        data = [{"MetricName": name, "Dimensions": list(dims), "Timestamp": self.at(m), "Value": v} for m, v in points]
        for i in range(0, len(data), 1000):
            self.cw.put_metric_data(Namespace="App", MetricData=data[i:i + 1000])

    def get(self, queries, minutes=10, **kwargs):
        return self.cw.get_metric_data(MetricDataQueries=queries, StartTime=self.base,
                                       EndTime=self.base + datetime.timedelta(minutes=minutes), **kwargs)

    def by_id(self, out):
        return {r["Id"]: r for r in out["MetricDataResults"]}

    def test_metric_stat_and_arithmetic(self):
        self.put("Requests", [(0, 10), (1, 20), (2, 40)])
        self.put("Errors", [(0, 1), (1, 5), (2, 4)])
        out = self.get([stat("req", "Requests", return_data=False), stat("err", "Errors"),
                        {"Id": "rate", "Expression": "100 * err / req", "Label": "Error %"}])
        results = self.by_id(out)
        self.assertNotIn("req", results)  # ReturnData false
        err = results["err"]
        self.assertEqual(err["Label"], "Errors")
        self.assertEqual(err["StatusCode"], "Complete")
        # TimestampDescending is the default order.
        self.assertEqual(err["Timestamps"], [self.at(2, 0), self.at(1, 0), self.at(0, 0)])
        self.assertEqual(err["Values"], [4.0, 5.0, 1.0])
        rate = results["rate"]
        self.assertEqual(rate["Label"], "Error %")
        self.assertEqual(rate["Values"], [10.0, 25.0, 10.0])
        ascending = self.get([stat("err", "Errors")], ScanBy="TimestampAscending")
        self.assertEqual(ascending["MetricDataResults"][0]["Values"], [1.0, 5.0, 4.0])

    def test_functions_and_search(self):
        for host, values in (("a", [1, 2, 3]), ("b", [10, 20, 30]), ("c", [100, 200, 300])):
            self.put("Cpu", list(enumerate(values)), dims=[{"Name": "Host", "Value": host}])
        queries = [stat(f"m{h}", "Cpu", "Average", dims=[{"Name": "Host", "Value": h}], return_data=False) for h in "abc"]
        queries += [{"Id": "total", "Expression": "SUM(METRICS())"},
                    {"Id": "running", "Expression": "RUNNING_SUM(ma)"},
                    {"Id": "worst", "Expression": "MAX([ma, mb, mc])"}]
        results = self.by_id(self.get(queries, ScanBy="TimestampAscending"))
        self.assertEqual(results["total"]["Values"], [111.0, 222.0, 333.0])
        self.assertEqual(results["running"]["Values"], [1.0, 3.0, 6.0])
        self.assertEqual(results["worst"]["Values"], [100.0, 200.0, 300.0])

        out = self.get([{"Id": "s", "Expression": "SEARCH('{App,Host} MetricName=\"Cpu\"', 'Maximum', 60)"}],
                       ScanBy="TimestampAscending")
        found = out["MetricDataResults"]
        self.assertEqual(len(found), 3)
        self.assertEqual(sorted(r["Values"][-1] for r in found), [3.0, 30.0, 300.0])
        self.assertTrue(all(r["Id"] == "s" for r in found))

    def test_dynamic_labels(self):
        self.put("Cpu", [(0, 10), (1, 30), (2, 20)], dims=[{"Name": "Host", "Value": "web-1"}])
        q = stat("c", "Cpu", "Maximum", dims=[{"Name": "Host", "Value": "web-1"}],
                 label="${PROP('Dim.Host')} ${LABEL} avg ${AVG} max ${MAX} last ${LAST} n=${DATAPOINT_COUNT} ${NOPE}")
        out = self.get([q])
        self.assertEqual(out["MetricDataResults"][0]["Label"], "web-1 Cpu avg 20 max 30 last 20 n=3 ${NOPE}")
        q["Label"] = "peak at ${MAX_TIME}"
        out = self.get([q], LabelOptions={"Timezone": "+0130"})
        peak = (self.at(1, 0) + datetime.timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
        self.assertEqual(out["MetricDataResults"][0]["Label"], "peak at %s+01:30" % peak)
        with self.assertRaises(ClientError) as e:
            self.get([q], LabelOptions={"Timezone": "UTC"})
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterValue")

    def test_paging_with_max_datapoints(self):
        self.put("Steady", [(m, m) for m in range(50)])
        values, token, pages = [], None, 0
        while True:
            kwargs = {"MaxDatapoints": 20, "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            out = self.get([stat("s", "Steady")], minutes=60, **kwargs)
            pages += 1
            r = out["MetricDataResults"][0]
            values += r["Values"]
            token = out.get("NextToken")
            self.assertEqual(r["StatusCode"], "PartialData" if token else "Complete")
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(values, [float(m) for m in range(50)])

    def test_bad_queries(self):
        def code_of(queries):
            with self.assertRaises(ClientError) as e:
                self.get(queries)
            return e.exception.response["Error"]["Code"], e.exception.response["Error"]["Message"]
        code, message = code_of([{"Id": "e1", "Expression": "m1 +* 2"}])
        self.assertEqual(code, "ValidationError")
        self.assertIn("e1", message)
        code, _ = code_of([{"Id": "e1", "Expression": "NOPE(m1)"}])
        self.assertEqual(code, "ValidationError")
        code, _ = code_of([{"Id": "e1", "Expression": "m9 * 2"}])
        self.assertEqual(code, "ValidationError")
        code, _ = code_of([{"Id": "Upper", "Expression": "1"}])
        self.assertEqual(code, "ValidationError")
        code, _ = code_of([stat("m1", "X", period=45)])
        self.assertEqual(code, "ValidationError")
        code, _ = code_of([stat("m1", "X", stat_name="p101")])
        self.assertEqual(code, "ValidationError")

    def test_percentiles(self):
        rng = random.Random(7)
        values = [rng.lognormvariate(3, 1) for _ in range(3000)]
        for i in range(0, len(values), 150):
            self.cw.put_metric_data(Namespace="App", MetricData=[
                {"MetricName": "Latency", "Timestamp": self.at(0, 10), "Values": values[i:i + 150]}])
        ordered = sorted(values)

        def exact(q):
            return ordered[int(q * (len(ordered) - 1))]  # rank q(n-1), as the sketch defines it
        out = self.cw.get_metric_statistics(Namespace="App", MetricName="Latency", StartTime=self.base,
                                            EndTime=self.at(1, 0), Period=60, ExtendedStatistics=["p50", "p99", "p99.9"])
        point = out["Datapoints"][0]["ExtendedStatistics"]
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)):
            self.assertAlmostEqual(point[name] / exact(q), 1.0, delta=0.02, msg=name)
        results = self.by_id(self.get([stat("p", "Latency", "p90"), stat("t", "Latency", "TM(10%:90%)")]))
        self.assertAlmostEqual(results["p"]["Values"][0] / exact(0.9), 1.0, delta=0.02)
        lo, hi = int(0.1 * len(ordered)), int(0.9 * len(ordered))
        trimmed = sum(ordered[lo:hi]) / (hi - lo)
        self.assertAlmostEqual(results["t"]["Values"][0] / trimmed, 1.0, delta=0.03)

    def test_cli_get_metric_data(self):
        self.put("Requests", [(0, 10), (1, 20)])
        queries = json.dumps([stat("r", "Requests"), {"Id": "d", "Expression": "r * 2"}])
        out = self.server.cli_json("cloudwatch", "get-metric-data", "--metric-data-queries", queries,
                                   "--start-time", self.base.isoformat(), "--end-time", self.at(5, 0).isoformat(),
                                   "--scan-by", "TimestampAscending")
        results = {r["Id"]: r for r in out["MetricDataResults"]}
        self.assertEqual(results["d"]["Values"], [20.0, 40.0])


class CloudWatchDashboards(ServerTestCase):
    BODY = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"metrics": [["App", "Latency"]], "period": 60, "stat": "Average", "region": "us-east-1", "title": "Latency"}},
        {"type": "text", "x": 12, "y": 0, "width": 12, "height": 3, "properties": {"markdown": "# Hello"}}]}

    def setUp(self):
        super().setUp()
        self.cw = self.server.client("cloudwatch")

    def test_put_get_list_delete(self):
        out = self.cw.put_dashboard(DashboardName="ops", DashboardBody=json.dumps(self.BODY))
        self.assertEqual(out.get("DashboardValidationMessages", []), [])
        self.cw.put_dashboard(DashboardName="ops-2", DashboardBody=json.dumps({"widgets": []}))
        self.cw.put_dashboard(DashboardName="dev", DashboardBody=json.dumps({"widgets": []}))
        got = self.cw.get_dashboard(DashboardName="ops")
        self.assertEqual(json.loads(got["DashboardBody"]), self.BODY)
        self.assertEqual(got["DashboardArn"], "arn:aws:cloudwatch::000000000000:dashboard/ops")
        entries = self.cw.list_dashboards()["DashboardEntries"]
        self.assertEqual([e["DashboardName"] for e in entries], ["dev", "ops", "ops-2"])
        self.assertEqual(entries[1]["Size"], len(json.dumps(self.BODY)))
        prefixed = self.cw.list_dashboards(DashboardNamePrefix="ops")["DashboardEntries"]
        self.assertEqual([e["DashboardName"] for e in prefixed], ["ops", "ops-2"])
        with self.assertRaises(ClientError) as e:
            self.cw.delete_dashboards(DashboardNames=["ops", "missing"])
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFound")
        self.cw.delete_dashboards(DashboardNames=["ops", "dev"])
        self.assertEqual([e["DashboardName"] for e in self.cw.list_dashboards()["DashboardEntries"]], ["ops-2"])
        with self.assertRaises(ClientError) as e:
            self.cw.get_dashboard(DashboardName="ops")
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFound")

    def test_invalid_bodies(self):
        for body in ("not json", json.dumps({"widgets": [{"type": "metric", "x": 20, "y": 0, "width": 10, "height": 6,
                                                             "properties": {"metrics": [["App", "M"]]}}]}),
                     json.dumps({"widgets": [{"type": "sparkles", "properties": {}}]}),
                     json.dumps({"widgets": "nope"})):
            with self.assertRaises(ClientError) as e:
                self.cw.put_dashboard(DashboardName="bad", DashboardBody=body)
            self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterInput", body)
        with self.assertRaises(ClientError) as e:
            self.cw.put_dashboard(DashboardName="bad name!", DashboardBody=json.dumps({"widgets": []}))
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterInput")
        self.assertEqual(self.cw.list_dashboards()["DashboardEntries"], [])

    def test_cli(self):
        self.server.cli("cloudwatch", "put-dashboard", "--dashboard-name", "cli", "--dashboard-body", json.dumps(self.BODY))
        out = self.server.cli_json("cloudwatch", "get-dashboard", "--dashboard-name", "cli")
        self.assertEqual(json.loads(out["DashboardBody"]), self.BODY)


if __name__ == "__main__":
    unittest.main()
