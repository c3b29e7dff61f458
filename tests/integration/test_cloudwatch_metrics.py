"""CloudWatch metrics (PutMetricData, ListMetrics, GetMetricStatistics) through boto3 and the
AWS CLI. The image's clients speak awsJson 1.0 (x-amzn-query-mode), Debian's speak query/XML."""
import datetime
import json
import os
import shutil
import tempfile
import unittest

import gzip
import urllib.error
import urllib.request

import botocore
import botocore.config
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from vigil_testing import FLAVOUR, ServerTestCase


def botocore_version():
    return tuple(int(x) for x in botocore.__version__.split(".")[:2])


def utc(seconds_from_now=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)


def minute_floor(dt):
    return dt.replace(second=0, microsecond=0)


class CloudWatchMetrics(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.cw = self.server.client("cloudwatch")
        self.sent = []  # (content-type, content-encoding) of each request, to see the protocol
        self.cw.meta.events.register("before-send", self._record)

    def _record(self, request, **kwargs):
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        self.sent.append((headers.get("content-type", ""), headers.get("content-encoding", "")))

    def code_of(self, call, **kwargs):
        with self.assertRaises(ClientError) as e:
            call(**kwargs)
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        return e.exception.response["Error"]["Code"], e.exception.response["Error"]["Message"]

    def stats(self, name, start, end, period=60, dims=(), **kwargs):
        out = self.cw.get_metric_statistics(
            Namespace="App", MetricName=name, Dimensions=list(dims), StartTime=start, EndTime=end, Period=period,
            Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"], **kwargs)
        return sorted(out["Datapoints"], key=lambda p: p["Timestamp"])

    def test_put_and_get_statistics(self):
        base = minute_floor(utc(-600))
        dims = [{"Name": "Host", "Value": "a"}]
        self.cw.put_metric_data(Namespace="App", MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base + datetime.timedelta(seconds=5), "Value": 10, "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base + datetime.timedelta(seconds=30), "Value": 30, "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base + datetime.timedelta(seconds=65),
             "Values": [1, 2, 3], "Counts": [1, 1, 2], "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base + datetime.timedelta(seconds=125),
             "StatisticValues": {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 50}, "Unit": "Milliseconds"},
        ])
        # The protocol each flavour's botocore picks: awsJson 1.0 (image), query (Debian).
        expected = "application/x-www-form-urlencoded" if FLAVOUR == "debian" else "application/x-amz-json-1.0"
        self.assertTrue(self.sent[-1][0].startswith(expected), self.sent[-1])
        points = self.stats("Latency", base, base + datetime.timedelta(seconds=180), dims=dims)
        self.assertEqual(len(points), 3)
        first, second, third = points
        self.assertEqual(first["Timestamp"], base)
        self.assertEqual((first["SampleCount"], first["Sum"], first["Average"], first["Minimum"], first["Maximum"]), (2, 40, 20, 10, 30))
        self.assertEqual(first["Unit"], "Milliseconds")
        self.assertEqual((second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"]), (4, 9, 1, 3))
        self.assertEqual((third["SampleCount"], third["Sum"], third["Average"]), (4, 100, 25))
        # A 5-minute period folds them; a unit filter that matches nothing returns nothing.
        folded = self.stats("Latency", base, base + datetime.timedelta(seconds=300), period=300, dims=dims)
        self.assertEqual([(p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) for p in folded], [(10, 149, 1, 50)])
        self.assertEqual(self.stats("Latency", base, base + datetime.timedelta(seconds=300), period=300, dims=dims, Unit="Seconds"), [])
        # Dimensions must match exactly: without them it is another series.
        self.assertEqual(self.stats("Latency", base, base + datetime.timedelta(seconds=300)), [])

    def test_high_resolution(self):
        base = minute_floor(utc(-300))
        self.cw.put_metric_data(Namespace="App", MetricData=[
            {"MetricName": "Hi", "Timestamp": base + datetime.timedelta(seconds=s), "Value": s, "StorageResolution": 1} for s in (1, 2, 11)])
        points = self.stats("Hi", base, base + datetime.timedelta(seconds=60), period=10)
        self.assertEqual([(p["Timestamp"] - base).total_seconds() for p in points], [0, 10])
        self.assertEqual([p["Sum"] for p in points], [3, 11])
        code, _ = self.code_of(self.cw.put_metric_data, Namespace="App", MetricData=[{"MetricName": "Hi", "Value": 1, "StorageResolution": 5}])
        self.assertEqual(code, "InvalidParameterValue")

    def test_put_errors(self):
        def put(**datum):
            return self.code_of(self.cw.put_metric_data, Namespace="App", MetricData=[dict(MetricName="M", **datum)])
        self.assertEqual(put(Value=1, StatisticValues={"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1})[0], "InvalidParameterCombination")
        self.assertEqual(put(Value=1, Values=[1])[0], "InvalidParameterCombination")
        self.assertEqual(put(Values=[1, 2], Counts=[1])[0], "InvalidParameterValue")
        self.assertEqual(put(Values=[float(i) for i in range(151)])[0], "InvalidParameterValue")
        self.assertEqual(put(Value=1, Timestamp=utc(-15 * 86400))[0], "InvalidParameterValue")
        self.assertEqual(put(Value=1, Timestamp=utc(3 * 3600))[0], "InvalidParameterValue")
        code, message = put(Value=1e300 * 1e10)  # +Inf (query sends "Infinity"; JSON cannot carry it)
        self.assertIn(code, ("InvalidParameterValue", "SerializationException"))
        self.assertEqual(put()[0], "MissingParameter")
        self.assertEqual(self.code_of(self.cw.put_metric_data, Namespace="App", MetricData=[])[0], "MissingParameter")
        self.assertEqual(self.code_of(self.cw.put_metric_data, Namespace="AWS/EC2", MetricData=[{"MetricName": "M", "Value": 1}])[0],
                         "InvalidParameterValue")
        many = [{"MetricName": "M", "Value": 1}] * 1001
        self.assertEqual(self.code_of(self.cw.put_metric_data, Namespace="App", MetricData=many)[0], "InvalidParameterValue")
        dims = [{"Name": "d%d" % i, "Value": "v"} for i in range(31)]
        code, _ = put(Value=1, Dimensions=dims)
        self.assertEqual(code, "ValidationError")
        # Nothing of the rejected calls was stored.
        self.assertEqual(self.cw.list_metrics()["Metrics"], [])

    def test_get_statistics_errors(self):
        start, end = utc(-3600), utc()
        def get(**kwargs):
            args = dict(Namespace="App", MetricName="M", StartTime=start, EndTime=end, Period=60, Statistics=["Sum"])
            args.update(kwargs)
            return self.code_of(self.cw.get_metric_statistics, **args)
        self.assertEqual(get(Period=90)[0], "InvalidParameterValue")
        self.assertEqual(get(Period=7)[0], "InvalidParameterValue")
        self.assertEqual(get(StartTime=end, EndTime=start)[0], "InvalidParameterValue")
        code, message = get(StartTime=utc(-2 * 86400), EndTime=utc(), Period=60)
        self.assertEqual(code, "InvalidParameterCombination")
        self.assertIn("exceeds the limit of 1,440", message)
        # 1 440 one-minute points is fine.
        self.cw.get_metric_statistics(Namespace="App", MetricName="M", StartTime=utc(-86400), EndTime=utc(), Period=60, Statistics=["Sum"])

    def test_list_metrics_filters_and_paging(self):
        data = []
        for i in range(12):
            data.append({"MetricName": "Requests", "Dimensions": [{"Name": "Host", "Value": "h%02d" % i}, {"Name": "Az", "Value": "a" if i % 2 else "b"}], "Value": 1})
        data.append({"MetricName": "Errors", "Value": 1})
        self.cw.put_metric_data(Namespace="Web", MetricData=data)
        self.cw.put_metric_data(Namespace="Batch", MetricData=[{"MetricName": "Jobs", "Value": 2}])
        self.assertEqual(len(self.cw.list_metrics()["Metrics"]), 14)
        self.assertEqual([m["MetricName"] for m in self.cw.list_metrics(Namespace="Batch")["Metrics"]], ["Jobs"])
        self.assertEqual(len(self.cw.list_metrics(Namespace="Web", MetricName="Requests")["Metrics"]), 12)
        self.assertEqual(len(self.cw.list_metrics(Dimensions=[{"Name": "Az"}])["Metrics"]), 12)
        self.assertEqual(len(self.cw.list_metrics(Dimensions=[{"Name": "Az", "Value": "a"}])["Metrics"]), 6)
        only = self.cw.list_metrics(Dimensions=[{"Name": "Host", "Value": "h03"}])["Metrics"]
        self.assertEqual(only, [{"Namespace": "Web", "MetricName": "Requests",
                                 "Dimensions": [{"Name": "Az", "Value": "a"}, {"Name": "Host", "Value": "h03"}]}])
        self.assertEqual(len(self.cw.list_metrics(RecentlyActive="PT3H")["Metrics"]), 14)
        self.assertEqual(self.cw.list_metrics(Namespace="Nope")["Metrics"], [])

    def test_list_metrics_pages_of_500(self):
        for chunk in range(2):
            self.cw.put_metric_data(Namespace="Many", MetricData=[
                {"MetricName": "M", "Dimensions": [{"Name": "Id", "Value": "%04d" % (chunk * 400 + i)}], "Value": 1} for i in range(400)])
        first = self.cw.list_metrics(Namespace="Many")
        self.assertEqual(len(first["Metrics"]), 500)
        self.assertIn("NextToken", first)
        ids = [m["Dimensions"][0]["Value"] for page in self.cw.get_paginator("list_metrics").paginate(Namespace="Many") for m in page["Metrics"]]
        self.assertEqual(ids, ["%04d" % i for i in range(800)])

    def test_large_put_is_gzipped(self):
        # 1 000 metrics with dimensions: far beyond botocore's 10 KiB compression threshold.
        data = [{"MetricName": "Big", "Dimensions": [{"Name": "Shard", "Value": "shard-%04d" % i}], "Values": [1.5, 2.5], "Counts": [2, 2]}
                for i in range(1000)]
        self.cw.put_metric_data(Namespace="Bulk", MetricData=data)
        if botocore_version() >= (1, 31):  # request compression came with botocore 1.31
            self.assertEqual(self.sent[-1][1], "gzip")
        points = self.cw.get_metric_statistics(Namespace="Bulk", MetricName="Big", Dimensions=[{"Name": "Shard", "Value": "shard-0999"}],
                                               StartTime=utc(-600), EndTime=utc(60), Period=3600, Statistics=["SampleCount", "Sum"])["Datapoints"]
        self.assertEqual([(p["SampleCount"], p["Sum"]) for p in points], [(4, 8)])
        names = [p for page in self.cw.get_paginator("list_metrics").paginate(Namespace="Bulk") for p in page["Metrics"]]
        self.assertEqual(len(names), 1000)

    def signed_query(self, body, encoding="gzip"):
        """A query-protocol request signed over its (compressed) body, as botocore signs it."""
        request = AWSRequest(method="POST", url=self.server.endpoint + "/", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Content-Encoding": encoding})
        SigV4Auth(Credentials("test", "test"), "monitoring", "us-east-1").add_auth(request)
        prepared = request.prepare()
        http_request = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
        try:
            with urllib.request.urlopen(http_request) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_gzip_query_body_and_bad_gzip(self):
        form = "Action=PutMetricData&Version=2010-08-01&Namespace=Gz&MetricData.member.1.MetricName=M&MetricData.member.1.Value=7"
        status, _ = self.signed_query(gzip.compress(form.encode()))
        self.assertEqual(status, 200)
        self.assertEqual([m["MetricName"] for m in self.cw.list_metrics(Namespace="Gz")["Metrics"]], ["M"])
        status, body = self.signed_query(b"\x1f\x8bnot really gzip")
        self.assertEqual(status, 400)
        self.assertIn("InvalidParameterValue", body)

    def test_cli(self):
        start = minute_floor(utc(-300))
        ts = (start + datetime.timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.server.cli("cloudwatch", "put-metric-data", "--namespace", "Cli", "--metric-name", "Temp",
                        "--dimensions", "Room=kitchen", "--value", "21.5", "--unit", "Count", "--timestamp", ts)
        self.server.cli("cloudwatch", "put-metric-data", "--namespace", "Cli", "--metric-data",
                        json.dumps([{"MetricName": "Temp", "Dimensions": [{"Name": "Room", "Value": "kitchen"}], "Value": 23.5,
                                     "Unit": "Count", "Timestamp": ts}]))
        metrics = self.server.cli_json("cloudwatch", "list-metrics", "--namespace", "Cli")["Metrics"]
        self.assertEqual(metrics, [{"Namespace": "Cli", "MetricName": "Temp", "Dimensions": [{"Name": "Room", "Value": "kitchen"}]}])
        out = self.server.cli_json("cloudwatch", "get-metric-statistics", "--namespace", "Cli", "--metric-name", "Temp",
                                   "--dimensions", "Name=Room,Value=kitchen", "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "--end-time", (start + datetime.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "--period", "60", "--statistics", "Average", "Maximum", "SampleCount")
        self.assertEqual(out["Label"], "Temp")
        [point] = out["Datapoints"]
        self.assertEqual((point["Average"], point["Maximum"], point["SampleCount"], point["Unit"]), (22.5, 23.5, 2, "Count"))
        bad = self.server.cli("cloudwatch", "get-metric-statistics", "--namespace", "Cli", "--metric-name", "Temp",
                              "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--end-time", utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "--period", "61", "--statistics", "Sum", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("InvalidParameterValue", bad.stderr)


class CloudWatchOverCbor(ServerTestCase):
    """rpc-v2-cbor, which botocore uses only when the model lists nothing else: a copy of the
    model with protocols = [smithy-rpc-v2-cbor] on a session of its own."""

    def cbor_client(self):
        session = botocore.session.get_session()
        loader = session.get_component("data_loader")
        model = loader.load_service_model("cloudwatch", "service-2")
        if "smithy-rpc-v2-cbor" not in model["metadata"].get("protocols", []):
            self.skipTest("this botocore has no rpc-v2-cbor")
        model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
        model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
        self.data_dir = tempfile.mkdtemp()
        folder = os.path.join(self.data_dir, "cloudwatch", "2010-08-01")
        os.makedirs(folder)
        with open(os.path.join(folder, "service-2.json"), "w") as f:
            json.dump(model, f)
        session = botocore.session.get_session()
        session.get_component("data_loader").search_paths.insert(0, self.data_dir)
        client = session.create_client("cloudwatch", endpoint_url=self.server.endpoint, region_name="us-east-1",
                                       aws_access_key_id="test", aws_secret_access_key="test",
                                       config=botocore.config.Config(retries={"max_attempts": 1}))
        sent = []
        client.meta.events.register("before-send", lambda request, **kw: sent.append(request.headers.get("smithy-protocol")))
        return client, sent

    def tearDown(self):
        if getattr(self, "data_dir", None):
            shutil.rmtree(self.data_dir)

    def test_put_list_get_over_cbor(self):
        cw, sent = self.cbor_client()
        start = minute_floor(utc(-300))
        cw.put_metric_data(Namespace="Cbor", MetricData=[
            {"MetricName": "M", "Dimensions": [{"Name": "K", "Value": "v"}], "Timestamp": start + datetime.timedelta(seconds=1), "Values": [1, 5], "Counts": [1, 3]}])
        self.assertIn(sent[-1], (b"rpc-v2-cbor", "rpc-v2-cbor"))
        self.assertEqual(cw.list_metrics(Namespace="Cbor")["Metrics"][0]["Dimensions"], [{"Name": "K", "Value": "v"}])
        [point] = cw.get_metric_statistics(Namespace="Cbor", MetricName="M", Dimensions=[{"Name": "K", "Value": "v"}], StartTime=start,
                                           EndTime=start + datetime.timedelta(seconds=60), Period=60, Statistics=["Sum", "Maximum"])["Datapoints"]
        self.assertEqual((point["Sum"], point["Maximum"]), (16, 5))
        with self.assertRaises(ClientError) as e:
            cw.get_metric_statistics(Namespace="Cbor", MetricName="M", StartTime=start, EndTime=utc(), Period=61, Statistics=["Sum"])
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterValue")


if __name__ == "__main__":
    unittest.main()
