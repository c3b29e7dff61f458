"""CloudWatch anomaly detection through boto3 and the AWS CLI: detectors (Put/Describe/Delete),
ANOMALY_DETECTION_BAND in GetMetricData over a model trained from three days of seasonal
history, and an anomaly-band alarm that fires on an injected spike and not on normal data."""
import datetime
import math
import random
import time
import unittest

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase

PERIOD = 300


def utc_floor(period=PERIOD):
    now = int(time.time())
    return datetime.datetime.fromtimestamp(now - now % period, datetime.timezone.utc)


def seasonal(t, rng):
    """A daily cycle around 50 with noise."""
    seconds = t.timestamp()
    return 50 + 20 * math.sin(2 * math.pi * (seconds % 86400) / 86400) + rng.gauss(0, 1)


class CloudWatchAnomalyDetection(ServerTestCase):
    server_args = ("--alarm-evaluation-interval", "1")

    def setUp(self):
        super().setUp()
        self.cw = self.server.client("cloudwatch")
        self.end = utc_floor()
        rng = random.Random(11)
        points = []
        # Three days of history up to (not including) the current period.
        for i in range(3 * 86400 // PERIOD, 0, -1):
            t = self.end - datetime.timedelta(seconds=i * PERIOD)
            points.append({"MetricName": "Requests", "Timestamp": t, "Value": seasonal(t, rng)})
        for i in range(0, len(points), 1000):
            self.cw.put_metric_data(Namespace="Web", MetricData=points[i:i + 1000])

    def band_queries(self, k=3):
        return [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "Web", "MetricName": "Requests"}, "Period": PERIOD,
                                            "Stat": "Average"}},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, %d)" % k}]

    def test_detectors_api(self):
        self.cw.put_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": "Web", "MetricName": "Requests", "Stat": "Average"},
                                     Configuration={"ExcludedTimeRanges": [
                                         {"StartTime": self.end - datetime.timedelta(days=2, hours=1),
                                          "EndTime": self.end - datetime.timedelta(days=2)}]})
        detectors = self.cw.describe_anomaly_detectors(Namespace="Web")["AnomalyDetectors"]
        self.assertEqual(len(detectors), 1)
        d = detectors[0]
        self.assertEqual(d["SingleMetricAnomalyDetector"]["MetricName"], "Requests")
        self.assertEqual(d["SingleMetricAnomalyDetector"]["Stat"], "Average")
        self.assertEqual(len(d["Configuration"]["ExcludedTimeRanges"]), 1)
        self.assertEqual(d["StateValue"], "PENDING_TRAINING")
        self.assertEqual(self.cw.describe_anomaly_detectors(Namespace="Other")["AnomalyDetectors"], [])
        with self.assertRaises(ClientError) as e:
            self.cw.put_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": "Web", "MetricName": "Requests", "Stat": "p101"})
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationError")  # the model's Stat pattern
        self.cw.delete_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": "Web", "MetricName": "Requests", "Stat": "Average"})
        self.assertEqual(self.cw.describe_anomaly_detectors()["AnomalyDetectors"], [])
        with self.assertRaises(ClientError) as e:
            self.cw.delete_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": "Web", "MetricName": "Requests", "Stat": "Average"})
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_band_contains_normal_data(self):
        out = self.cw.get_metric_data(MetricDataQueries=self.band_queries(), StartTime=self.end - datetime.timedelta(hours=6),
                                      EndTime=self.end, ScanBy="TimestampAscending")
        results = out["MetricDataResults"]
        metric = next(r for r in results if r["Id"] == "m1")
        bands = [r for r in results if r["Id"] == "ad1"]
        self.assertEqual(len(bands), 2, results)
        lower, upper = sorted(bands, key=lambda r: r["Values"][0] if r["Values"] else 0)
        self.assertTrue(lower["Label"].endswith("Lower") and upper["Label"].endswith("Upper"), (lower["Label"], upper["Label"]))
        self.assertEqual(len(lower["Values"]), len(metric["Values"]))
        inside = sum(1 for v, lo, hi in zip(metric["Values"], lower["Values"], upper["Values"]) if lo <= v <= hi)
        # k=3: at most two normal points of 72 outside. The data follow the time of day the test
        # runs at; at some phases of the daily cycle one more point lands just outside.
        self.assertGreaterEqual(inside, len(metric["Values"]) - 2)
        widths = [hi - lo for lo, hi in zip(lower["Values"], upper["Values"])]
        self.assertTrue(all(0 < w < 40 for w in widths), widths)  # narrower than the daily swing
        detector = self.cw.describe_anomaly_detectors(Namespace="Web")["AnomalyDetectors"][0]
        self.assertEqual(detector["StateValue"], "TRAINED")  # created by the band's first use, as AWS does

    def test_band_alarm_fires_on_spike_only(self):
        self.cw.put_metric_alarm(AlarmName="requests-anomaly", EvaluationPeriods=1,
                                 ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold", ThresholdMetricId="ad1",
                                 Metrics=[dict(q, ReturnData=(q["Id"] == "m1")) for q in self.band_queries()],
                                 TreatMissingData="ignore")
        time.sleep(2.5)
        self.assertNotEqual(self.cw.describe_alarms(AlarmNames=["requests-anomaly"])["MetricAlarms"][0]["StateValue"], "ALARM")
        self.cw.put_metric_data(Namespace="Web", MetricData=[{"MetricName": "Requests", "Value": 500.0}])
        deadline = time.time() + 20
        while True:
            alarm = self.cw.describe_alarms(AlarmNames=["requests-anomaly"])["MetricAlarms"][0]
            if alarm["StateValue"] == "ALARM":
                break
            self.assertLess(time.time(), deadline, alarm["StateReason"])
            time.sleep(0.3)
        self.assertIn("upper thresholds", alarm["StateReason"])
        with self.assertRaises(ClientError) as e:
            self.cw.put_metric_alarm(AlarmName="bad", EvaluationPeriods=1, ComparisonOperator="GreaterThanUpperThreshold",
                                     Metrics=self.band_queries())
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationError")


if __name__ == "__main__":
    unittest.main()
