"""SigV4 failures get AWS's codes and statuses; accounts from the config never see each other."""
import datetime
import json
import unittest
import urllib.error
import urllib.request
from unittest import mock

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from vigil_testing import ServerTestCase, VigilServer

CONFIG = """
dev_credentials = true
[[accounts]]
id = "111111111111"
[[accounts.users]]
name = "alice"
access_key_id = "AKIAALICE"
secret_access_key = "alice-secret"
[[accounts]]
id = "222222222222"
[[accounts.users]]
name = "root"
access_key_id = "AKIABOBROOT"
secret_access_key = "bob-secret"
"""


def raw_call(endpoint, target, body, signer=None, headers=None):
    request = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body, headers=dict(
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}, **(headers or {})))
    if signer:
        signer.add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body.encode() if isinstance(prepared.body, str) else prepared.body,
                                          headers=dict(prepared.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http_request) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Authentication(ServerTestCase):
    server_config = CONFIG

    def assert_error(self, client_call, code, status):
        with self.assertRaises(ClientError) as e:
            client_call()
        self.assertEqual(e.exception.response["Error"]["Code"], code)
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return e.exception

    def test_wrong_secret(self):
        logs = self.server.client("logs", secret_key="not-the-secret")
        error = self.assert_error(logs.describe_log_groups, "InvalidSignatureException", 400)
        self.assertIn("signature we calculated does not match", str(error))

    def test_unknown_key(self):
        logs = self.server.client("logs", access_key="AKIANOBODY", secret_key="x")
        self.assert_error(logs.describe_log_groups, "UnrecognizedClientException", 400)

    def test_missing_signature(self):
        import boto3
        logs = boto3.client("logs", endpoint_url=self.server.endpoint, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
        self.assert_error(logs.describe_log_groups, "MissingAuthenticationTokenException", 400)

    def test_skewed_clock(self):
        credentials = botocore.credentials.Credentials("test", "test")
        skewed = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
        # botocore reads the time through get_current_datetime (new) or datetime.utcnow (old).
        if hasattr(botocore.auth, "get_current_datetime"):
            patcher = mock.patch("botocore.auth.get_current_datetime", return_value=skewed)
        else:
            fake_datetime = mock.MagicMock(wraps=datetime.datetime)
            fake_datetime.utcnow.return_value = skewed
            patcher = mock.patch("botocore.auth.datetime.datetime", fake_datetime)
        with patcher:
            status, body = raw_call(self.server.endpoint, "Logs_20140328.DescribeLogGroups", "{}",
                                    botocore.auth.SigV4Auth(credentials, "logs", "us-east-1"))
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "InvalidSignatureException")
        self.assertIn("Signature expired", body["message"])

    def test_tampered_body(self):
        credentials = botocore.credentials.Credentials("test", "test")
        request = botocore.awsrequest.AWSRequest(method="POST", url=self.server.endpoint + "/", data='{"limit": 1}', headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
        botocore.auth.SigV4Auth(credentials, "logs", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
        http_request = urllib.request.Request(self.server.endpoint + "/", data=b'{"limit": 2}', headers=headers, method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(http_request)
        self.assertEqual(e.exception.code, 400)
        self.assertEqual(json.loads(e.exception.read())["__type"], "InvalidSignatureException")

    def test_cli_reports_the_error(self):
        result = self.server.cli("logs", "describe-log-groups", secret_key="wrong", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("InvalidSignatureException", result.stderr)


class AccountIsolation(ServerTestCase):
    server_config = CONFIG

    def test_accounts_do_not_see_each_other(self):
        alice = self.server.client("logs", access_key="AKIAALICE", secret_key="alice-secret")
        bob = self.server.client("logs", access_key="AKIABOBROOT", secret_key="bob-secret")
        dev = self.server.client("logs")
        alice.create_log_group(logGroupName="shared-name")
        bob.create_log_group(logGroupName="shared-name")  # same name, other account: no conflict
        alice.create_log_group(logGroupName="alice-only")
        self.assertEqual([g["logGroupName"] for g in alice.describe_log_groups()["logGroups"]], ["alice-only", "shared-name"])
        self.assertEqual([g["logGroupName"] for g in bob.describe_log_groups()["logGroups"]], ["shared-name"])
        self.assertEqual(dev.describe_log_groups()["logGroups"], [])
        arn = alice.describe_log_groups(logGroupNamePrefix="alice")["logGroups"][0]["arn"]
        self.assertIn(":111111111111:", arn)
        with self.assertRaises(ClientError) as e:
            bob.create_log_stream(logGroupName="alice-only", logStreamName="s")
        self.assertEqual(e.exception.response["Error"]["Code"], "ResourceNotFoundException")
        # Another account's ARN is not found either.
        with self.assertRaises(ClientError):
            bob.list_tags_for_resource(resourceArn=arn.rstrip(":*"))
        # The audit trail is per account too.
        alice_trail = self.server.client("cloudtrail", access_key="AKIAALICE", secret_key="alice-secret")
        bob_trail = self.server.client("cloudtrail", access_key="AKIABOBROOT", secret_key="bob-secret")
        names = [e["EventName"] for e in alice_trail.lookup_events()["Events"]]
        self.assertIn("CreateLogGroup", names)
        users = {e["Username"] for e in alice_trail.lookup_events()["Events"]}
        self.assertEqual(users, {"alice"})
        for event in bob_trail.lookup_events()["Events"]:
            self.assertEqual(json.loads(event["CloudTrailEvent"])["recipientAccountId"], "222222222222")

    def test_regions_are_separate(self):
        east = self.server.client("logs", region="us-east-1")
        west = self.server.client("logs", region="eu-west-1")
        east.create_log_group(logGroupName="g")
        self.assertEqual(west.describe_log_groups()["logGroups"], [])
        west.create_log_group(logGroupName="g")


class ResetGuard(unittest.TestCase):
    def test_reset_refused_without_dev_credentials(self):
        server = VigilServer(config_text='dev_credentials = false\n[[accounts]]\nid = "111111111111"\n[[accounts.users]]\nname = "root"\naccess_key_id = "K"\nsecret_access_key = "S"\n').start()
        try:
            with self.assertRaises(urllib.error.HTTPError) as e:
                server.reset()
            self.assertEqual(e.exception.code, 403)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
