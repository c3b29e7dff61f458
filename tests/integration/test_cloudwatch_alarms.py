"""CloudWatch alarms through boto3 and the AWS CLI: metric, math and composite alarms are
evaluated by the server's scheduler (--alarm-evaluation-interval 1 so tests need not wait a
minute), with AWS's states, reasons, history, tags, errors, and state that survives a restart."""
import datetime
import json
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase


def utc(seconds_from_now=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)


class CloudWatchAlarms(ServerTestCase):
    server_args = ("--alarm-evaluation-interval", "1")

    def setUp(self):
        super().setUp()
        self.cw = self.server.client("cloudwatch")

    def error_of(self, call, **kwargs):
        with self.assertRaises(ClientError) as e:
            call(**kwargs)
        return e.exception.response["Error"]["Code"], e.exception.response["Error"]["Message"]

    def put(self, name, value, dims=(), seconds_ago=0, at=None):
        self.cw.put_metric_data(Namespace="App", MetricData=[
            {"MetricName": name, "Dimensions": list(dims), "Value": value,
             "Timestamp": (at or utc()) - datetime.timedelta(seconds=seconds_ago)}])

    def alarm(self, name, composite=False):
        out = self.cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm" if composite else "MetricAlarm"])
        alarms = out["CompositeAlarms" if composite else "MetricAlarms"]
        self.assertEqual(len(alarms), 1, out)
        return alarms[0]

    def wait_for_state(self, name, state, composite=False, timeout=20):
        deadline = time.time() + timeout
        while True:
            a = self.alarm(name, composite)
            if a["StateValue"] == state:
                return a
            if time.time() > deadline:
                self.fail(f"{name} stayed {a['StateValue']} ({a['StateReason']}), expected {state}")
            time.sleep(0.3)

    def subscribed_topic(self, name):
        """An SNS topic with a confirmed http subscription to a local receiver."""
        from test_sns_core import Receiver
        sns = self.server.client("sns")
        topic = sns.create_topic(Name=name)["TopicArn"]
        receiver = Receiver()
        self.addCleanup(receiver.close)
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
        _, confirmation = receiver.next()
        urllib.request.urlopen(confirmation["SubscribeURL"]).read()
        return topic, receiver

    def simple_alarm(self, name="high-latency", metric="Latency", threshold=100.0, **extra):
        args = dict(AlarmName=name, Namespace="App", MetricName=metric, Statistic="Average", Period=60,
                    EvaluationPeriods=1, Threshold=threshold, ComparisonOperator="GreaterThanThreshold")
        args.update(extra)
        self.cw.put_metric_alarm(**args)

    def test_metric_alarm_goes_to_alarm_and_back_to_ok(self):
        self.simple_alarm(AlarmDescription="latency too high")
        a = self.alarm("high-latency")
        self.assertEqual(a["StateValue"], "INSUFFICIENT_DATA")
        self.assertEqual(a["StateReason"], "Unchecked: Initial alarm creation")
        self.assertEqual(a["AlarmArn"], "arn:aws:cloudwatch:us-east-1:000000000000:alarm:high-latency")
        self.assertEqual(a["AlarmDescription"], "latency too high")
        self.assertEqual((a["Threshold"], a["ComparisonOperator"], a["Period"], a["EvaluationPeriods"]),
                         (100.0, "GreaterThanThreshold", 60, 1))

        self.put("Latency", 250)
        a = self.wait_for_state("high-latency", "ALARM")
        # Without DatapointsToAlarm AWS words it "1 datapoint [...] was", not "1 out of the last 1".
        self.assertTrue(a["StateReason"].startswith("Threshold Crossed: 1 datapoint [250.0 ("), a["StateReason"])
        self.assertIn("was greater than the threshold (100.0)", a["StateReason"])
        data = json.loads(a["StateReasonData"])
        self.assertEqual(data["version"], "1.0")
        self.assertEqual(data["statistic"], "Average")
        self.assertEqual(data["period"], 60)
        self.assertEqual(data["threshold"], 100.0)
        self.assertEqual(data["recentDatapoints"], [250.0])

        # The average of the minute drops below the threshold: OK.
        for _ in range(3):
            self.put("Latency", 1)
        a = self.wait_for_state("high-latency", "OK")
        self.assertTrue(a["StateReason"].startswith("Threshold Crossed: 1 datapoint ["), a["StateReason"])
        self.assertTrue(a["StateReason"].endswith("was not greater than the threshold (100.0)."), a["StateReason"])

        history = self.cw.describe_alarm_history(AlarmName="high-latency")["AlarmHistoryItems"]
        summaries = [h["HistorySummary"] for h in history]
        self.assertEqual(summaries[0], "Alarm updated from ALARM to OK")  # newest first
        self.assertIn("Alarm updated from INSUFFICIENT_DATA to ALARM", summaries)
        self.assertEqual(summaries[-1], 'Alarm "high-latency" created')
        update = next(h for h in history if h["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM")
        self.assertEqual(update["HistoryItemType"], "StateUpdate")
        self.assertEqual(json.loads(update["HistoryData"])["newState"]["stateValue"], "ALARM")
        only_config = self.cw.describe_alarm_history(AlarmName="high-latency", HistoryItemType="ConfigurationUpdate")
        self.assertEqual(len(only_config["AlarmHistoryItems"]), 1)
        oldest_first = self.cw.describe_alarm_history(AlarmName="high-latency", ScanBy="TimestampAscending")["AlarmHistoryItems"]
        self.assertEqual(oldest_first[0]["HistorySummary"], 'Alarm "high-latency" created')

    def test_m_of_n_and_treat_missing_data(self):
        # 2 of 3 one-minute datapoints above 10: breaching points two and four minutes ago count
        # as datapoints of past periods.
        self.simple_alarm("m-of-n", metric="Errors", threshold=10.0, Statistic="Sum", EvaluationPeriods=3, DatapointsToAlarm=2)
        base = utc()  # both points relative to one instant, so a minute boundary cannot merge them
        self.put("Errors", 50, seconds_ago=60, at=base)
        time.sleep(2.5)
        self.assertNotEqual(self.alarm("m-of-n")["StateValue"], "ALARM")
        self.put("Errors", 70, seconds_ago=120, at=base)
        a = self.wait_for_state("m-of-n", "ALARM")
        self.assertIn("2 out of the last", a["StateReason"])
        self.assertEqual(a["DatapointsToAlarm"], 2)

        # No data at all: breaching treats the missing points as over the threshold.
        self.simple_alarm("no-data-breaching", metric="Silent", TreatMissingData="breaching")
        self.wait_for_state("no-data-breaching", "ALARM")
        self.simple_alarm("no-data-ok", metric="Silent", TreatMissingData="notBreaching")
        self.wait_for_state("no-data-ok", "OK")
        self.simple_alarm("no-data-missing", metric="Silent")
        time.sleep(2.5)
        a = self.alarm("no-data-missing")
        self.assertEqual(a["StateValue"], "INSUFFICIENT_DATA")

    def test_every_comparison_operator(self):
        self.put("Gauge", 5)
        cases = {"GreaterThanOrEqualToThreshold": (5, "ALARM"), "GreaterThanThreshold": (5, "OK"),
                 "LessThanThreshold": (6, "ALARM"), "LessThanOrEqualToThreshold": (4, "OK")}
        for op, (threshold, _) in cases.items():
            self.simple_alarm("cmp-" + op, metric="Gauge", threshold=float(threshold), ComparisonOperator=op)
        for op, (_, state) in cases.items():
            self.wait_for_state("cmp-" + op, state)

    def test_math_alarm(self):
        self.cw.put_metric_alarm(
            AlarmName="error-rate", EvaluationPeriods=1, Threshold=0.5, ComparisonOperator="GreaterThanThreshold",
            Metrics=[
                {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"}, "Period": 60, "Stat": "Sum"},
                 "ReturnData": False},
                {"Id": "requests", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Requests"}, "Period": 60, "Stat": "Sum"},
                 "ReturnData": False},
                {"Id": "rate", "Expression": "errors / requests", "Label": "Error rate", "ReturnData": True},
            ])
        self.put("Requests", 10)
        self.put("Errors", 8)
        a = self.wait_for_state("error-rate", "ALARM")
        self.assertEqual(len(a["Metrics"]), 3)
        self.assertIn("[0.8 (", a["StateReason"])
        for_metric = self.cw.describe_alarms_for_metric(Namespace="App", MetricName="Errors")["MetricAlarms"]
        self.assertEqual([m["AlarmName"] for m in for_metric], ["error-rate"])

    def test_composite_alarm(self):
        self.simple_alarm("cpu", metric="Cpu", threshold=80.0)
        self.simple_alarm("mem", metric="Mem", threshold=80.0)
        self.cw.put_composite_alarm(AlarmName="host-sick", AlarmRule='ALARM("cpu") AND ALARM(mem)',
                                    AlarmDescription="both")
        comp = self.alarm("host-sick", composite=True)
        self.assertEqual(comp["AlarmRule"], 'ALARM("cpu") AND ALARM(mem)')
        self.put("Cpu", 95)
        self.put("Mem", 10)
        self.wait_for_state("cpu", "ALARM")
        self.wait_for_state("mem", "OK")
        self.wait_for_state("host-sick", "OK", composite=True)
        self.put("Mem", 300)  # average (10 + 300) / 2 > 80
        self.wait_for_state("mem", "ALARM")
        comp = self.wait_for_state("host-sick", "ALARM", composite=True)
        self.assertIn("arn:aws:cloudwatch:us-east-1:000000000000:alarm:mem transitioned to ALARM", comp["StateReason"])
        self.assertIn("triggeringAlarms", json.loads(comp["StateReasonData"]))

        both = self.cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        self.assertEqual(sorted(a["AlarmName"] for a in both["MetricAlarms"]), ["cpu", "mem"])
        self.assertEqual([a["AlarmName"] for a in both["CompositeAlarms"]], ["host-sick"])
        self.assertEqual(self.cw.describe_alarms()["CompositeAlarms"], [])  # metric alarms only by default
        children = self.cw.describe_alarms(ChildrenOfAlarmName="host-sick")
        self.assertEqual(sorted(a["AlarmName"] for a in children["MetricAlarms"]), ["cpu", "mem"])
        parents = self.cw.describe_alarms(ParentsOfAlarmName="cpu")
        self.assertEqual([a["AlarmName"] for a in parents["CompositeAlarms"]], ["host-sick"])

        code, _ = self.error_of(self.cw.put_composite_alarm, AlarmName="bad", AlarmRule="ALARM(cpu) AND")
        self.assertEqual(code, "ValidationError")
        code, _ = self.error_of(self.cw.put_composite_alarm, AlarmName="bad", AlarmRule="ALARM(nope)")
        self.assertEqual(code, "ValidationError")

    def test_set_alarm_state_actions_flags_tags_and_delete(self):
        self.simple_alarm("manual", metric="Nothing", TreatMissingData="ignore", Tags=[{"Key": "team", "Value": "core"}])
        self.cw.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="testing",
                                StateReasonData=json.dumps({"why": "test"}))
        a = self.alarm("manual")
        self.assertEqual((a["StateValue"], a["StateReason"]), ("ALARM", "testing"))
        self.assertEqual(json.loads(a["StateReasonData"]), {"why": "test"})
        code, _ = self.error_of(self.cw.set_alarm_state, AlarmName="manual", StateValue="OK", StateReason="x", StateReasonData="{not json")
        self.assertEqual(code, "InvalidFormat")
        code, _ = self.error_of(self.cw.set_alarm_state, AlarmName="missing", StateValue="OK", StateReason="x")
        self.assertEqual(code, "ResourceNotFound")

        self.cw.disable_alarm_actions(AlarmNames=["manual"])
        self.assertFalse(self.alarm("manual")["ActionsEnabled"])
        self.cw.enable_alarm_actions(AlarmNames=["manual"])
        self.assertTrue(self.alarm("manual")["ActionsEnabled"])

        arn = self.alarm("manual")["AlarmArn"]
        self.assertEqual(self.cw.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "team", "Value": "core"}])
        self.cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "obs"}])
        tags = {t["Key"]: t["Value"] for t in self.cw.list_tags_for_resource(ResourceARN=arn)["Tags"]}
        self.assertEqual(tags, {"team": "obs", "env": "dev"})
        self.cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
        self.assertEqual(self.cw.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "env", "Value": "dev"}])
        code, _ = self.error_of(self.cw.list_tags_for_resource, ResourceARN=arn + "-nope")
        self.assertEqual(code, "ResourceNotFoundException")

        # Updating keeps the state; deleting a list with an unknown name deletes nothing.
        self.simple_alarm("manual", metric="Nothing", threshold=5.0, TreatMissingData="ignore")
        self.assertEqual(self.alarm("manual")["StateValue"], "ALARM")
        self.assertEqual(self.alarm("manual")["Threshold"], 5.0)
        code, _ = self.error_of(self.cw.delete_alarms, AlarmNames=["manual", "nope"])
        self.assertEqual(code, "ResourceNotFound")
        self.assertEqual(len(self.cw.describe_alarms()["MetricAlarms"]), 1)
        self.cw.delete_alarms(AlarmNames=["manual"])
        self.assertEqual(self.cw.describe_alarms()["MetricAlarms"], [])

    def test_alarm_actions_publish_to_sns(self):
        topic, receiver = self.subscribed_topic("alarms")
        self.simple_alarm("paged", metric="Pager", AlarmActions=[topic], OKActions=[topic])
        self.cw.set_alarm_state(AlarmName="paged", StateValue="ALARM", StateReason="forced")
        _, note = receiver.next()
        self.assertEqual(note["Type"], "Notification")
        self.assertEqual(note["TopicArn"], topic)
        self.assertEqual(note["Subject"], 'ALARM: "paged" in US East (N. Virginia)')
        message = json.loads(note["Message"])
        self.assertEqual((message["AlarmName"], message["NewStateValue"], message["OldStateValue"], message["NewStateReason"]),
                         ("paged", "ALARM", "INSUFFICIENT_DATA", "forced"))
        self.assertEqual(message["AWSAccountId"], "000000000000")
        self.assertEqual(message["Trigger"]["MetricName"], "Pager")
        self.assertEqual(message["Trigger"]["Threshold"], 100.0)
        actions = self.cw.describe_alarm_history(AlarmName="paged", HistoryItemType="Action")["AlarmHistoryItems"]
        self.assertEqual(actions[0]["HistorySummary"], "Published a notification to " + topic)

        # Disabled actions send nothing; an action on a topic that does not exist is a failed action.
        self.cw.disable_alarm_actions(AlarmNames=["paged"])
        self.cw.set_alarm_state(AlarmName="paged", StateValue="OK", StateReason="quiet")
        receiver.assert_quiet(self)
        missing = topic + "-gone"
        self.simple_alarm("broken", metric="Pager", AlarmActions=[missing])
        self.cw.set_alarm_state(AlarmName="broken", StateValue="ALARM", StateReason="forced")
        actions = self.cw.describe_alarm_history(AlarmName="broken", HistoryItemType="Action")["AlarmHistoryItems"]
        self.assertEqual(actions[0]["HistorySummary"], "Failed to execute action " + missing)

    def test_composite_actions_suppressor(self):
        topic, receiver = self.subscribed_topic("composite")
        self.simple_alarm("maintenance", metric="Maint", TreatMissingData="breaching")
        self.wait_for_state("maintenance", "ALARM")
        # "ignore" keeps whatever state SetAlarmState gives the child while it has no data.
        self.simple_alarm("child", metric="Child", TreatMissingData="ignore")
        self.cw.put_composite_alarm(AlarmName="service-down", AlarmRule="ALARM(child)", AlarmActions=[topic],
                                    ActionsSuppressor="maintenance", ActionsSuppressorWaitPeriod=0,
                                    ActionsSuppressorExtensionPeriod=0)
        self.cw.set_alarm_state(AlarmName="child", StateValue="ALARM", StateReason="forced")
        comp = self.wait_for_state("service-down", "ALARM", composite=True)
        self.assertEqual(comp["ActionsSuppressedBy"], "Alarm")
        self.assertEqual(comp["ActionsSuppressor"], "maintenance")
        receiver.assert_quiet(self)

        # Without the suppressor in ALARM the composite's actions run.
        self.cw.delete_alarms(AlarmNames=["service-down"])
        self.cw.set_alarm_state(AlarmName="child", StateValue="OK", StateReason="recovered")
        self.cw.put_composite_alarm(AlarmName="service-down-2", AlarmRule="ALARM(child)", AlarmActions=[topic])
        self.wait_for_state("service-down-2", "OK", composite=True)
        self.cw.set_alarm_state(AlarmName="child", StateValue="ALARM", StateReason="forced again")
        _, note = receiver.next()
        self.assertEqual(json.loads(note["Message"])["AlarmName"], "service-down-2")

    def test_validation_errors(self):
        base = dict(AlarmName="x", Namespace="App", MetricName="M", Statistic="Average", Period=60, EvaluationPeriods=1,
                    Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
        cases = [
            (dict(Period=45), "ValidationError"),
            (dict(DatapointsToAlarm=2), "ValidationError"),
            (dict(ExtendedStatistic="p99"), "InvalidParameterCombination"),
            (dict(Threshold=None), "MissingParameter"),
            (dict(Period=60, EvaluationPeriods=1441), "ValidationError"),
            (dict(TreatMissingData="sometimes"), "ValidationError"),
            (dict(AlarmActions=["not-an-arn"]), "ValidationError"),
        ]
        for change, expected in cases:
            args = dict(base)
            args.update(change)
            args = {k: v for k, v in args.items() if v is not None}
            code, message = self.error_of(self.cw.put_metric_alarm, **args)
            self.assertEqual(code, expected, (change, message))
        self.assertEqual(self.cw.describe_alarms()["MetricAlarms"], [])

    def test_paging_and_filters(self):
        for i in range(7):
            self.simple_alarm(f"alarm-{i}", metric="Nothing")
        self.simple_alarm("other", metric="Nothing")
        names, token = [], None
        while True:
            kwargs = {"AlarmNamePrefix": "alarm-", "MaxRecords": 3}
            if token:
                kwargs["NextToken"] = token
            page = self.cw.describe_alarms(**kwargs)
            names += [a["AlarmName"] for a in page["MetricAlarms"]]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(names, [f"alarm-{i}" for i in range(7)])
        self.assertEqual(len(self.cw.describe_alarms(StateValue="INSUFFICIENT_DATA")["MetricAlarms"]), 8)
        self.assertEqual(self.cw.describe_alarms(StateValue="ALARM")["MetricAlarms"], [])

    def test_cli_put_and_describe(self):
        self.server.cli("cloudwatch", "put-metric-alarm", "--alarm-name", "cli-alarm", "--namespace", "App",
                        "--metric-name", "Latency", "--statistic", "Maximum", "--period", "60", "--evaluation-periods", "2",
                        "--threshold", "3", "--comparison-operator", "LessThanThreshold", "--treat-missing-data", "notBreaching")
        out = self.server.cli_json("cloudwatch", "describe-alarms", "--alarm-names", "cli-alarm")
        self.assertEqual(out["MetricAlarms"][0]["Statistic"], "Maximum")
        self.assertEqual(out["MetricAlarms"][0]["TreatMissingData"], "notBreaching")
        self.server.cli("cloudwatch", "set-alarm-state", "--alarm-name", "cli-alarm", "--state-value", "ALARM", "--state-reason", "cli")
        out = self.server.cli_json("cloudwatch", "describe-alarm-history", "--alarm-name", "cli-alarm")
        updates = [json.loads(h["HistoryData"]) for h in out["AlarmHistoryItems"] if h["HistoryItemType"] == "StateUpdate"]
        self.assertIn(("ALARM", "cli"), [(u["newState"]["stateValue"], u["newState"]["stateReason"]) for u in updates])


class CloudWatchAlarmRestart(ServerTestCase):
    server_args = ("--alarm-evaluation-interval", "1")

    def test_state_survives_restart_without_spurious_transition(self):
        cw = self.server.client("cloudwatch")
        cw.put_metric_alarm(AlarmName="durable", Namespace="App", MetricName="Load", Statistic="Maximum", Period=60,
                            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
        cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Load", "Value": 9.0}])
        deadline = time.time() + 20
        while cw.describe_alarms(AlarmNames=["durable"])["MetricAlarms"][0]["StateValue"] != "ALARM":
            self.assertLess(time.time(), deadline)
            time.sleep(0.3)
        before = cw.describe_alarm_history(AlarmName="durable")["AlarmHistoryItems"]
        self.server.stop()
        self.server.start()
        cw = self.server.client("cloudwatch")
        time.sleep(2.5)  # a few evaluations after the restart
        a = cw.describe_alarms(AlarmNames=["durable"])["MetricAlarms"][0]
        self.assertEqual(a["StateValue"], "ALARM")
        after = cw.describe_alarm_history(AlarmName="durable")["AlarmHistoryItems"]
        self.assertEqual(len(after), len(before))


if __name__ == "__main__":
    unittest.main()
