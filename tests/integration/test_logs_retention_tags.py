"""Retention policies and tags of CloudWatch Logs log groups, through boto3 and the AWS CLI.
(That retention really deletes data as time passes is unit tested with an injected clock:
tests/unit/log_store_test.cpp.)"""
import unittest

from botocore.exceptions import ClientError

from vigil_testing import REGION, ServerTestCase, now_ms

ACCOUNT = "000000000000"
GROUP_MISSING = "The specified log group does not exist."
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


def group_arn(name):
    return "arn:aws:logs:%s:%s:log-group:%s" % (REGION, ACCOUNT, name)


class LogsTestCase(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")

    def assertError(self, ctx, code, message=None):
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        if message is not None:
            self.assertEqual(error["Message"], message)


class Retention(LogsTestCase):
    def retention(self, name):
        return self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0].get("retentionInDays")

    def test_put_and_delete_retention_policy(self):
        self.logs.create_log_group(logGroupName="g")
        self.assertIsNone(self.retention("g"))
        for days in RETENTION_DAYS:
            self.logs.put_retention_policy(logGroupName="g", retentionInDays=days)
            self.assertEqual(self.retention("g"), days)
        self.logs.delete_retention_policy(logGroupName="g")
        self.assertIsNone(self.retention("g"))
        self.logs.delete_retention_policy(logGroupName="g")  # deleting no policy is fine

    def test_only_aws_values_are_accepted(self):
        self.logs.create_log_group(logGroupName="g")
        for bad in (0, 2, 4, 366, 3650, 10000):
            with self.assertRaises(ClientError) as e:
                self.logs.put_retention_policy(logGroupName="g", retentionInDays=bad)
            self.assertError(e, "InvalidParameterException",
                             "1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: "
                             "Member must satisfy enum value set: [%s]" % (bad, ", ".join(str(d) for d in RETENTION_DAYS)))
        self.assertIsNone(self.retention("g"))

    def test_missing_group(self):
        with self.assertRaises(ClientError) as e:
            self.logs.put_retention_policy(logGroupName="missing", retentionInDays=7)
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        with self.assertRaises(ClientError) as e:
            self.logs.delete_retention_policy(logGroupName="missing")
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)

    def test_retention_rejects_events_older_than_the_policy(self):
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        self.logs.put_retention_policy(logGroupName="g", retentionInDays=1)
        t = now_ms()
        out = self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": t - 25 * 3600 * 1000, "message": "expired"}, {"timestamp": t, "message": "kept"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"expiredLogEventEndIndex": 1})
        self.assertEqual([e["message"] for e in self.logs.filter_log_events(logGroupName="g")["events"]], ["kept"])

    def test_policy_survives_a_restart(self):
        self.logs.create_log_group(logGroupName="g")
        self.logs.put_retention_policy(logGroupName="g", retentionInDays=14)
        self.server.stop()
        self.server.start(self.server.port)
        self.logs = self.server.client("logs")
        self.assertEqual(self.retention("g"), 14)

    def test_cli(self):
        self.server.cli("logs", "create-log-group", "--log-group-name", "/cli")
        self.server.cli("logs", "put-retention-policy", "--log-group-name", "/cli", "--retention-in-days", "30")
        out = self.server.cli_json("logs", "describe-log-groups", "--log-group-name-prefix", "/cli")
        self.assertEqual(out["logGroups"][0]["retentionInDays"], 30)
        failed = self.server.cli("logs", "put-retention-policy", "--log-group-name", "/cli", "--retention-in-days", "31", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("InvalidParameterException", failed.stderr)
        self.assertIn("Member must satisfy enum value set", failed.stderr)
        self.server.cli("logs", "delete-retention-policy", "--log-group-name", "/cli")
        out = self.server.cli_json("logs", "describe-log-groups", "--log-group-name-prefix", "/cli")
        self.assertNotIn("retentionInDays", out["logGroups"][0])


class Tags(LogsTestCase):
    def test_tags_given_at_creation(self):
        self.logs.create_log_group(logGroupName="g", tags={"team": "core", "env": "dev"})
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="g")["tags"], {"team": "core", "env": "dev"})
        self.logs.create_log_group(logGroupName="bare")
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="bare")["tags"], {})
        if hasattr(self.logs, "list_tags_for_resource"):
            self.assertEqual(self.logs.list_tags_for_resource(resourceArn=group_arn("g"))["tags"], {"team": "core", "env": "dev"})

    def test_tag_log_group_adds_and_overwrites_untag_removes(self):
        self.logs.create_log_group(logGroupName="g", tags={"a": "1"})
        self.logs.tag_log_group(logGroupName="g", tags={"b": "2"})
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="g")["tags"], {"a": "1", "b": "2"})
        self.logs.tag_log_group(logGroupName="g", tags={"a": "one", "c": ""})
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="g")["tags"], {"a": "one", "b": "2", "c": ""})
        self.logs.untag_log_group(logGroupName="g", tags=["a", "not-there"])
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="g")["tags"], {"b": "2", "c": ""})
        for call, kw in [(self.logs.tag_log_group, {"tags": {"k": "v"}}), (self.logs.untag_log_group, {"tags": ["k"]}),
                         (self.logs.list_tags_log_group, {})]:
            with self.assertRaises(ClientError) as e:
                call(logGroupName="missing", **kw)
            self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)

    def test_tag_resource_by_arn(self):
        if not hasattr(self.logs, "tag_resource"):
            self.skipTest("this botocore predates TagResource")
        self.logs.create_log_group(logGroupName="/app/api", tags={"key1": "val1"})
        group = self.logs.describe_log_groups()["logGroups"][0]
        arn = group.get("logGroupArn", group_arn("/app/api"))
        self.assertEqual(arn, group_arn("/app/api"))
        self.logs.tag_resource(resourceArn=arn, tags={"key2": "val2"})
        self.assertEqual(self.logs.list_tags_for_resource(resourceArn=arn)["tags"], {"key1": "val1", "key2": "val2"})
        # Both API families see the same tags.
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="/app/api")["tags"], {"key1": "val1", "key2": "val2"})
        self.logs.untag_resource(resourceArn=arn, tagKeys=["key2"])
        self.assertEqual(self.logs.list_tags_for_resource(resourceArn=arn)["tags"], {"key1": "val1"})

        for call, kw in [(self.logs.tag_resource, {"tags": {"k": "v"}}), (self.logs.untag_resource, {"tagKeys": ["k"]}),
                         (self.logs.list_tags_for_resource, {})]:
            with self.assertRaises(ClientError) as e:
                call(resourceArn=group_arn("missing"), **kw)
            self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)
        with self.assertRaises(ClientError) as e:
            self.logs.list_tags_for_resource(resourceArn="not-an-arn")
        self.assertError(e, "ValidationException", "Invalid resourceArn")
        # Another region's group is another group.
        with self.assertRaises(ClientError) as e:
            self.logs.list_tags_for_resource(resourceArn=group_arn("/app/api").replace(REGION, "eu-west-1"))
        self.assertError(e, "ResourceNotFoundException", GROUP_MISSING)

    def test_at_most_50_tags(self):
        fifty = {"k%02d" % i: "v" for i in range(50)}
        self.logs.create_log_group(logGroupName="full", tags=fifty)
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="full")["tags"], fifty)
        self.logs.tag_log_group(logGroupName="full", tags={"k00": "overwritten"})  # still 50
        with self.assertRaises(ClientError) as e:
            self.logs.tag_log_group(logGroupName="full", tags={"one-more": "v"})
        self.assertError(e, "TooManyTagsException")
        self.assertEqual(len(self.logs.list_tags_log_group(logGroupName="full")["tags"]), 50)

        fifty_one = dict(fifty, extra="v")
        with self.assertRaises(ClientError) as e:
            self.logs.create_log_group(logGroupName="over", tags=fifty_one)
        self.assertError(e, "InvalidParameterException")
        message = e.exception.response["Error"]["Message"]
        self.assertTrue(message.startswith("1 validation error detected: Value "), message)
        self.assertTrue(message.endswith(" at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"), message)
        self.assertEqual(self.logs.describe_log_groups(logGroupNamePrefix="over")["logGroups"], [])

    def test_tags_are_gone_with_the_group(self):
        self.logs.create_log_group(logGroupName="g", tags={"a": "1"})
        self.logs.delete_log_group(logGroupName="g")
        self.logs.create_log_group(logGroupName="g")
        self.assertEqual(self.logs.list_tags_log_group(logGroupName="g")["tags"], {})

    def test_cli(self):
        self.server.cli("logs", "create-log-group", "--log-group-name", "/cli", "--tags", "team=core,env=dev")
        self.server.cli("logs", "tag-log-group", "--log-group-name", "/cli", "--tags", "owner=me")
        out = self.server.cli_json("logs", "list-tags-log-group", "--log-group-name", "/cli")
        self.assertEqual(out["tags"], {"team": "core", "env": "dev", "owner": "me"})
        self.server.cli("logs", "untag-log-group", "--log-group-name", "/cli", "--tags", "env")
        out = self.server.cli_json("logs", "list-tags-for-resource", "--resource-arn", group_arn("/cli"))
        self.assertEqual(out["tags"], {"team": "core", "owner": "me"})
        failed = self.server.cli("logs", "list-tags-for-resource", "--resource-arn", group_arn("/missing"), check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("ResourceNotFoundException", failed.stderr)


if __name__ == "__main__":
    unittest.main()
