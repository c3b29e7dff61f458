"""CloudTrail Lake: event data stores collect the account's API calls; SQL queries answer over them."""
import base64
import datetime
import gzip
import hashlib
import json
import time
import unittest

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from vigil_testing import ServerTestCase

ACCOUNT = "000000000000"
SOURCES = "eventSource IN ('logs.amazonaws.com', 'monitoring.amazonaws.com')"


def knows_member(client, operation, member):
    """Whether this botocore's model has the member (Debian's 1.29 predates QueryParameters)."""
    return member in client.meta.service_model.operation_model(operation).input_shape.members


def lake_results_policy(bucket, account=ACCOUNT, region="us-east-1"):
    """The bucket policy AWS documents for CloudTrail Lake query results."""
    condition = {"StringLike": {"aws:sourceAccount": account, "aws:sourceArn": "arn:aws:cloudtrail:%s:%s:eventdatastore/*" % (region, account)}}
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailLake1", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": ["s3:PutObject*", "s3:Abort*"], "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket],
             "Condition": condition},
            {"Sid": "AWSCloudTrailLake2", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::%s" % bucket, "Condition": condition},
        ],
    })


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Lake(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.ct = self.server.client("cloudtrail")
        self.logs = self.server.client("logs")
        self.cw = self.server.client("cloudwatch")
        self.started = datetime.datetime.now(datetime.timezone.utc)
        store = self.ct.create_event_data_store(Name="audit-store", TerminationProtectionEnabled=False, RetentionPeriod=30)
        self.arn = store["EventDataStoreArn"]
        self.eds = self.arn.split("/")[-1]
        self.logs.create_log_group(logGroupName="/lake/b")
        self.logs.create_log_group(logGroupName="/lake/a")
        self.cw.put_metric_alarm(AlarmName="lake-alarm", MetricName="Errors", Namespace="App", Statistic="Sum", Period=60,
                                 EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        self.logs.describe_log_groups()

    def wait(self, query_id, client=None):
        deadline = time.time() + 60
        while time.time() < deadline:
            described = self.ct.describe_query(QueryId=query_id)
            if described["QueryStatus"] not in ("QUEUED", "RUNNING"):
                return described
            time.sleep(0.05)
        self.fail("query %s did not finish" % query_id)

    def query(self, sql, page=2):
        query_id = self.ct.start_query(QueryStatement=sql)["QueryId"]
        described = self.wait(query_id)
        self.assertEqual(described["QueryStatus"], "FINISHED", described.get("ErrorMessage"))
        rows, token = [], None
        while True:
            kwargs = {"QueryId": query_id, "MaxQueryResults": page}
            if token:
                kwargs["NextToken"] = token
            result = self.ct.get_query_results(**kwargs)
            self.assertEqual(result["QueryStatus"], "FINISHED")
            self.assertLessEqual(len(result["QueryResultRows"]), page)
            for row in result["QueryResultRows"]:
                merged = {}
                for column in row:
                    self.assertEqual(len(column), 1)  # AWS's shape: one {column: value} map per column
                    merged.update(column)
                rows.append(merged)
            token = result.get("NextToken")
            if not token:
                return rows, described, result

    def error_code(self, f, *args, **kwargs):
        with self.assertRaises(ClientError) as caught:
            f(*args, **kwargs)
        return caught.exception.response["Error"]["Code"]

    def test_count_by_event_name(self):
        rows, described, result = self.query(
            "SELECT eventName, count(*) AS n FROM %s WHERE %s GROUP BY eventName ORDER BY n DESC, eventName" % (self.eds, SOURCES))
        self.assertEqual(rows, [{"eventName": "CreateLogGroup", "n": "2"}, {"eventName": "DescribeLogGroups", "n": "1"},
                                {"eventName": "PutMetricAlarm", "n": "1"}])
        stats = described["QueryStatistics"]
        self.assertEqual(stats["EventsMatched"], 3)
        self.assertGreaterEqual(stats["EventsScanned"], 4)
        self.assertGreater(stats["BytesScanned"], 0)
        self.assertIn("CreationTime", stats)
        self.assertEqual(result["QueryStatistics"]["TotalResultsCount"], 3)
        self.assertEqual(described["QueryString"].split(" FROM ")[0], "SELECT eventName, count(*) AS n")

    def test_where_on_source_and_time_range(self):
        start = iso(self.started - datetime.timedelta(minutes=1))
        end = iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1))
        rows, _, _ = self.query("SELECT count(*) FROM %s WHERE eventSource = 'logs.amazonaws.com' AND eventTime >= '%s' AND eventTime < '%s'"
                                % (self.eds, start, end))
        self.assertEqual(rows, [{"_col0": "3"}])
        rows, _, _ = self.query("SELECT count(*) AS n FROM %s WHERE eventSource = 'logs.amazonaws.com' AND eventTime > now() - interval '1' hour"
                                % self.eds)
        self.assertEqual(rows, [{"n": "3"}])
        past = iso(self.started - datetime.timedelta(days=1))
        rows, described, _ = self.query("SELECT count(*) AS n FROM %s WHERE eventTime < from_iso8601_timestamp('%s')" % (self.arn, past))
        self.assertEqual(rows, [{"n": "0"}])
        self.assertEqual(described["QueryStatistics"]["EventsScanned"], 0)  # the time range is a seek, not a scan

    def test_group_order_limit_and_nested_fields(self):
        rows, _, _ = self.query("SELECT userIdentity.arn, element_at(requestParameters, 'logGroupName') AS grp, readOnly FROM %s "
                                "WHERE eventName = 'CreateLogGroup' ORDER BY grp LIMIT 5" % self.eds)
        self.assertEqual(rows, [{"arn": "arn:aws:iam::%s:root" % ACCOUNT, "grp": "/lake/a", "readOnly": "false"},
                                {"arn": "arn:aws:iam::%s:root" % ACCOUNT, "grp": "/lake/b", "readOnly": "false"}])
        rows, _, _ = self.query("SELECT eventSource, count(*) AS n FROM %s WHERE %s GROUP BY eventSource HAVING count(*) > 1 "
                                "ORDER BY eventSource LIMIT 1" % (self.eds, SOURCES))
        self.assertEqual(rows, [{"eventSource": "logs.amazonaws.com", "n": "3"}])
        rows, _, _ = self.query("SELECT e.requestParameters.logGroupName, e.userIdentity.accountId AS acct FROM %s e "
                                "WHERE e.eventName = 'CreateLogGroup' ORDER BY 1 DESC" % self.eds)
        self.assertEqual(rows, [{"logGroupName": "/lake/b", "acct": ACCOUNT}, {"logGroupName": "/lake/a", "acct": ACCOUNT}])

    def test_collects_from_creation_on_and_selectors(self):
        # A second store created now sees only what happens after it, and only writes.
        second = self.ct.create_event_data_store(
            Name="writes-only", TerminationProtectionEnabled=False,
            AdvancedEventSelectors=[{"Name": "writes", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]},
                {"Field": "eventSource", "Equals": ["logs.amazonaws.com"]}]}])
        second_id = second["EventDataStoreArn"].split("/")[-1]
        self.logs.create_log_group(logGroupName="/lake/c")
        self.logs.describe_log_groups()
        rows, _, _ = self.query("SELECT eventName, element_at(requestParameters, 'logGroupName') AS g FROM %s" % second_id)
        self.assertEqual(rows, [{"eventName": "CreateLogGroup", "g": "/lake/c"}])

    def test_store_lifecycle_and_tags(self):
        got = self.ct.get_event_data_store(EventDataStore=self.eds)
        self.assertEqual(got["Name"], "audit-store")
        self.assertEqual(got["Status"], "ENABLED")
        self.assertEqual(got["RetentionPeriod"], 30)
        self.assertTrue(got["MultiRegionEnabled"])
        self.assertFalse(got["OrganizationEnabled"])
        self.assertEqual(got["AdvancedEventSelectors"][0]["FieldSelectors"], [{"Field": "eventCategory", "Equals": ["Management"]}])
        self.assertEqual([s["Name"] for s in self.ct.list_event_data_stores()["EventDataStores"]], ["audit-store"])
        self.assertEqual(self.error_code(self.ct.create_event_data_store, Name="audit-store"), "EventDataStoreAlreadyExistsException")

        self.ct.add_tags(ResourceId=self.arn, TagsList=[{"Key": "team", "Value": "sec"}, {"Key": "env", "Value": "ci"}])
        self.ct.remove_tags(ResourceId=self.arn, TagsList=[{"Key": "env"}])
        tags = self.ct.list_tags(ResourceIdList=[self.arn])["ResourceTagList"]
        self.assertEqual(tags, [{"ResourceId": self.arn, "TagsList": [{"Key": "team", "Value": "sec"}]}])

        updated = self.ct.update_event_data_store(EventDataStore=self.arn, TerminationProtectionEnabled=True, RetentionPeriod=90)
        self.assertEqual(updated["RetentionPeriod"], 90)
        self.assertEqual(self.error_code(self.ct.delete_event_data_store, EventDataStore=self.arn), "EventDataStoreTerminationProtectedException")
        self.ct.update_event_data_store(EventDataStore=self.arn, TerminationProtectionEnabled=False)
        self.ct.delete_event_data_store(EventDataStore=self.arn)
        self.assertEqual(self.ct.get_event_data_store(EventDataStore=self.arn)["Status"], "PENDING_DELETION")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement="SELECT 1 FROM %s" % self.eds), "InactiveEventDataStoreException")
        self.assertEqual(self.ct.restore_event_data_store(EventDataStore=self.arn)["Status"], "ENABLED")
        self.assertEqual(self.error_code(self.ct.restore_event_data_store, EventDataStore=self.arn), "InvalidEventDataStoreStatusException")

    def test_errors(self):
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement="SELEC * FROM %s" % self.eds), "InvalidQueryStatementException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement="DELETE FROM %s" % self.eds), "InvalidQueryStatementException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement="SELECT nope FROM %s" % self.eds), "InvalidQueryStatementException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement="SELECT 1 FROM 11111111-2222-3333-4444-555555555555"),
                         "EventDataStoreNotFoundException")
        self.assertEqual(self.error_code(self.ct.get_event_data_store, EventDataStore="11111111-2222-3333-4444-555555555555"),
                         "EventDataStoreNotFoundException")
        self.assertEqual(self.error_code(self.ct.describe_query, QueryId="11111111-2222-3333-4444-555555555555"), "QueryIdNotFoundException")
        query_id = self.ct.start_query(QueryStatement="SELECT eventName FROM %s" % self.eds)["QueryId"]
        self.wait(query_id)
        self.assertEqual(self.error_code(self.ct.cancel_query, QueryId=query_id), "InactiveQueryException")
        listed = self.ct.list_queries(EventDataStore=self.eds)["Queries"]
        self.assertEqual([(q["QueryId"], q["QueryStatus"]) for q in listed], [(query_id, "FINISHED")])
        failed = self.ct.start_query(QueryStatement="SELECT from_iso8601_timestamp(eventName) FROM %s" % self.eds)["QueryId"]
        described = self.wait(failed)
        self.assertEqual(described["QueryStatus"], "FAILED")
        self.assertIn("cannot be cast to timestamp", described["ErrorMessage"])

    def test_kms_key(self):
        """KmsKeyId: kept as the key's ARN; while the key is disabled the store takes no events
        and answers no query (KmsException), as in AWS; it cannot be changed once set."""
        kms = self.server.client("kms")
        key = kms.create_key()["KeyMetadata"]
        kms.create_alias(AliasName="alias/lake", TargetKeyId=key["KeyId"])
        self.assertEqual(self.error_code(self.ct.create_event_data_store, Name="bad-key", KmsKeyId="alias/none"), "KmsKeyNotFoundException")
        store = self.ct.create_event_data_store(Name="sealed-store", KmsKeyId="alias/lake", TerminationProtectionEnabled=False)
        self.assertEqual(store["KmsKeyId"], key["Arn"])
        eds = store["EventDataStoreArn"].split("/")[-1]
        self.assertEqual(self.ct.get_event_data_store(EventDataStore=eds)["KmsKeyId"], key["Arn"])
        other = kms.create_key()["KeyMetadata"]
        self.assertEqual(self.error_code(self.ct.update_event_data_store, EventDataStore=eds, KmsKeyId=other["KeyId"]), "InvalidParameterException")
        self.logs.create_log_group(logGroupName="/lake/kept")
        kms.disable_key(KeyId=key["KeyId"])
        self.logs.create_log_group(logGroupName="/lake/dropped")
        sql = "SELECT requestParameters.logGroupName AS g FROM %s WHERE eventName = 'CreateLogGroup' ORDER BY g" % eds
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql), "KmsException")
        self.assertEqual(self.error_code(self.ct.create_event_data_store, Name="disabled-key", KmsKeyId=key["KeyId"]), "KmsException")
        kms.enable_key(KeyId=key["KeyId"])
        rows, _, _ = self.query(sql)
        self.assertEqual(rows, [{"g": "/lake/kept"}])

    def test_query_parameters(self):
        if not knows_member(self.ct, "StartQuery", "QueryParameters"):
            self.skipTest("this botocore predates StartQuery's QueryParameters")
        sql = "SELECT eventName, count(*) AS n FROM %s WHERE eventSource = ? AND eventName <> ? GROUP BY eventName ORDER BY eventName" % self.eds
        query_id = self.ct.start_query(QueryStatement=sql, QueryParameters=["logs.amazonaws.com", "DescribeLogGroups"])["QueryId"]
        described = self.wait(query_id)
        self.assertEqual(described["QueryStatus"], "FINISHED", described.get("ErrorMessage"))
        self.assertEqual(described["QueryString"], sql.replace("= ?", "= 'logs.amazonaws.com'").replace("<> ?", "<> 'DescribeLogGroups'"))
        rows = self.ct.get_query_results(QueryId=query_id)["QueryResultRows"]
        self.assertEqual(rows, [[{"eventName": "CreateLogGroup"}, {"n": "2"}]])
        # A parameter is a value: a quote in it does not change the statement.
        injected = self.ct.start_query(QueryStatement=sql, QueryParameters=["x' OR '1'='1", "y"])["QueryId"]
        self.assertEqual(self.wait(injected)["QueryStatus"], "FINISHED")
        self.assertEqual(self.ct.get_query_results(QueryId=injected)["QueryResultRows"], [])
        # Counts must match the placeholders (Trino's rule); the model's limits hold.
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql, QueryParameters=["logs.amazonaws.com"]),
                         "InvalidQueryStatementException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql), "InvalidQueryStatementException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql, QueryParameters=["a"] * 11), "InvalidParameterException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql, QueryParameters=["a" * 1025, "b"]),
                         "InvalidParameterException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryAlias="dashboard", QueryParameters=["a"]), "UnsupportedOperationException")

    def wait_delivery(self, query_id):
        deadline = time.time() + 60
        while time.time() < deadline:
            described = self.ct.describe_query(QueryId=query_id)
            if described.get("DeliveryStatus") not in (None, "PENDING"):
                return described
            time.sleep(0.05)
        self.fail("query %s was not delivered" % query_id)

    def test_delivery_to_s3(self):
        s3 = self.server.client("s3", s3={"addressing_style": "path"})
        s3.create_bucket(Bucket="lake-results")
        sql = "SELECT eventName, count(*) AS n FROM %s WHERE %s GROUP BY eventName ORDER BY eventName" % (self.eds, SOURCES)
        # CloudTrail needs the bucket policy AWS documents, checked at StartQuery.
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql, DeliveryS3Uri="s3://lake-results/exports"),
                         "InsufficientS3BucketPolicyException")
        self.assertEqual(self.error_code(self.ct.start_query, QueryStatement=sql, DeliveryS3Uri="s3://no-such-results/exports"),
                         "S3BucketDoesNotExistException")
        s3.put_bucket_policy(Bucket="lake-results", Policy=lake_results_policy("lake-results"))
        query_id = self.ct.start_query(QueryStatement=sql, DeliveryS3Uri="s3://lake-results/exports")["QueryId"]
        described = self.wait_delivery(query_id)
        self.assertEqual(described["QueryStatus"], "FINISHED")
        self.assertEqual(described["DeliveryStatus"], "SUCCESS")
        self.assertEqual(described["DeliveryS3Uri"], "s3://lake-results/exports")

        listed = s3.list_objects_v2(Bucket="lake-results")["Contents"]
        keys = sorted(o["Key"] for o in listed)
        folder = keys[0].rsplit("/", 1)[0] + "/"
        completed = datetime.datetime.now(datetime.timezone.utc)
        self.assertRegex(folder, r"^exports/AWSLogs/%s/CloudTrail-Lake/Query/\d{4}/\d{2}/\d{2}/%s/$" % (ACCOUNT, query_id))
        self.assertIn(completed.strftime("%Y/%m/%d"), folder)
        self.assertEqual(keys, [folder + "result_1.csv.gz", folder + "result_sign.json"])
        body = s3.get_object(Bucket="lake-results", Key=folder + "result_1.csv.gz")["Body"].read()
        self.assertEqual(gzip.decompress(body).decode(),
                         "eventName,n\r\nCreateLogGroup,2\r\nDescribeLogGroups,1\r\nPutMetricAlarm,1\r\n")

        # The sign file verifies as `aws cloudtrail verify-query-results` checks it.
        sign = json.loads(s3.get_object(Bucket="lake-results", Key=folder + "result_sign.json")["Body"].read())
        self.assertEqual(sign["version"], "1.0")
        self.assertEqual(sign["region"], "us-east-1")
        self.assertEqual(sign["files"], [{"fileHashValue": hashlib.sha256(body).hexdigest(), "fileName": "result_1.csv.gz"}])
        self.assertEqual((sign["hashAlgorithm"], sign["signatureAlgorithm"]), ("SHA-256", "SHA256withRSA"))
        complete_time = datetime.datetime.strptime(sign["queryCompleteTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        keys_listed = self.ct.list_public_keys(StartTime=complete_time - datetime.timedelta(minutes=1),
                                               EndTime=complete_time + datetime.timedelta(minutes=1))["PublicKeyList"]
        public = [k for k in keys_listed if k["Fingerprint"] == sign["publicKeyFingerprint"]]
        self.assertEqual(len(public), 1)
        key = serialization.load_der_public_key(public[0]["Value"])
        signed = " ".join(f["fileHashValue"] for f in sign["files"]).encode()
        key.verify(bytes.fromhex(sign["hashSignature"]), signed, padding.PKCS1v15(), hashes.SHA256())

        # The policy withdrawn before the delivery: nothing written, ACCESS_DENIED.
        slow = self.ct.start_query(QueryStatement="SELECT eventName FROM %s" % self.eds, DeliveryS3Uri="s3://lake-results/denied")["QueryId"]
        s3.delete_bucket_policy(Bucket="lake-results")
        described = self.wait_delivery(slow)
        # The worker may be faster than the policy change (the unit tests pin each case down).
        self.assertIn(described["DeliveryStatus"], ("SUCCESS", "ACCESS_DENIED", "ACCESS_DENIED_SIGNING_FILE"))
        if described["DeliveryStatus"] == "ACCESS_DENIED":
            self.assertNotIn("Contents", s3.list_objects_v2(Bucket="lake-results", Prefix="denied/"))

    def test_cli(self):
        started = self.server.cli_json("cloudtrail", "start-query", "--query-statement",
                                       "SELECT eventName, count(*) AS n FROM %s WHERE %s GROUP BY eventName ORDER BY eventName" % (self.eds, SOURCES))
        query_id = started["QueryId"]
        deadline = time.time() + 60
        while time.time() < deadline:
            described = self.server.cli_json("cloudtrail", "describe-query", "--query-id", query_id)
            if described["QueryStatus"] == "FINISHED":
                break
            time.sleep(0.1)
        self.assertEqual(described["QueryStatus"], "FINISHED")
        result = self.server.cli_json("cloudtrail", "get-query-results", "--query-id", query_id)
        self.assertEqual(result["QueryResultRows"], [[{"eventName": "CreateLogGroup"}, {"n": "2"}], [{"eventName": "DescribeLogGroups"}, {"n": "1"}],
                                                     [{"eventName": "PutMetricAlarm"}, {"n": "1"}]])
        stores = self.server.cli_json("cloudtrail", "list-event-data-stores")["EventDataStores"]
        self.assertEqual([s["EventDataStoreArn"] for s in stores], [self.arn])
        cancelled = self.server.cli("cloudtrail", "cancel-query", "--query-id", query_id, check=False)
        self.assertNotEqual(cancelled.returncode, 0)
        self.assertIn("InactiveQueryException", cancelled.stderr)
        bad = self.server.cli("cloudtrail", "start-query", "--query-statement", "SELECT * FROM nowhere-store", check=False)
        self.assertIn("EventDataStoreNotFoundException", bad.stderr)
        created = self.server.cli_json("cloudtrail", "create-event-data-store", "--name", "cli-store", "--no-termination-protection-enabled")
        self.assertEqual(created["Name"], "cli-store")
        self.server.cli("cloudtrail", "delete-event-data-store", "--event-data-store", created["EventDataStoreArn"])


if __name__ == "__main__":
    unittest.main()
