"""SNS topics and http subscriptions through boto3 and the AWS CLI: a local HTTP server is the
subscriber; confirmation via the SubscribeURL (plain GET) and via ConfirmSubscription,
signed notifications verified with the served certificate, retries, errors, and restart."""
import base64
import datetime
import http.server
import json
import os
import queue
import ssl
import tempfile
import threading
import unittest
import urllib.request

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from vigil_testing import ServerTestCase, VigilServer


class Receiver:
    """A subscriber endpoint: records every POST; answers `fail` of them with 500 first."""

    def __init__(self, tls=False):
        self.messages = queue.Queue()
        self.fail = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                receiver.messages.put((dict((k.lower(), v) for k, v in self.headers.items()), body, self.path))
                status = 200
                if receiver.fail > 0:
                    receiver.fail -= 1
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self_signed_files())
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "%s://127.0.0.1:%d/hook" % ("https" if tls else "http", self.httpd.server_address[1])

    def next(self, timeout=10):
        headers, body, path = self.messages.get(timeout=timeout)
        return headers, json.loads(body) if body.startswith("{") else body

    def assert_quiet(self, testcase, seconds=1.0):
        with testcase.assertRaises(queue.Empty):
            self.messages.get(timeout=seconds)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed_files():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    directory = tempfile.mkdtemp(prefix="vigil-sns-tls-")
    cert_file, key_file = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return cert_file, key_file


def string_to_sign(m):
    if m["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join("%s\n%s\n" % (f, m[f]) for f in fields if f in m).encode()


def verify_signature(m):
    with urllib.request.urlopen(m["SigningCertURL"]) as r:
        cert = x509.load_pem_x509_certificate(r.read())
    digest = hashes.SHA256() if m["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(base64.b64decode(m["Signature"]), string_to_sign(m), padding.PKCS1v15(), digest)
    return True


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


class SnsCore(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.sns = self.server.client("sns")
        self.receiver = Receiver()

    def tearDown(self):
        self.receiver.close()

    def subscribe_confirmed(self, topic, via_url=True):
        arn = self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=self.receiver.url,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
        headers, m = self.receiver.next()
        self.assertEqual(headers["x-amz-sns-message-type"], "SubscriptionConfirmation")
        self.assertEqual(m["Type"], "SubscriptionConfirmation")
        if via_url:
            with urllib.request.urlopen(m["SubscribeURL"]) as r:
                self.assertEqual(r.status, 200)
                self.assertIn(arn, r.read().decode())
        else:
            self.assertEqual(self.sns.confirm_subscription(TopicArn=topic, Token=m["Token"])["SubscriptionArn"], arn)
        return arn

    def test_topic_lifecycle(self):
        arn = self.sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"},
                                    Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
        self.assertEqual(arn, "arn:aws:sns:us-east-1:000000000000:orders")
        self.assertEqual(self.sns.create_topic(Name="orders")["TopicArn"], arn)  # idempotent
        attrs = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual(attrs["DisplayName"], "Orders")
        self.assertEqual(attrs["Owner"], "000000000000")
        self.assertEqual(attrs["SubscriptionsConfirmed"], "0")
        self.assertEqual(json.loads(attrs["Policy"])["Id"], "__default_policy_ID")
        self.assertIn("http", json.loads(attrs["EffectiveDeliveryPolicy"]))
        self.sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="New")
        self.assertEqual(self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"], "New")
        self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"], [{"Key": "team", "Value": "ops"}])
        self.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}])
        self.sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
        self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"], [{"Key": "env", "Value": "test"}])
        fifo = self.sns.create_topic(Name="jobs.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        self.assertEqual(self.sns.get_topic_attributes(TopicArn=fifo)["Attributes"]["FifoTopic"], "true")
        out = self.sns.publish(TopicArn=fifo, Message="m", MessageGroupId="g", MessageDeduplicationId="d")
        self.assertIn("SequenceNumber", out)
        # Paging: 100 per page.
        for i in range(120):
            self.sns.create_topic(Name="bulk-%03d" % i)
        pages = list(self.sns.get_paginator("list_topics").paginate())
        self.assertEqual(len(pages[0]["Topics"]), 100)
        self.assertEqual(sum(len(p["Topics"]) for p in pages), 122)
        self.sns.delete_topic(TopicArn=arn)
        self.sns.delete_topic(TopicArn=arn)  # deleting a missing topic succeeds, as AWS
        self.assertNotIn(arn, [t["TopicArn"] for p in pages for t in []] + [t["TopicArn"] for t in self.sns.list_topics()["Topics"]])

    def test_errors(self):
        with self.assertRaises(ClientError) as ctx:
            self.sns.get_topic_attributes(TopicArn="arn:aws:sns:us-east-1:000000000000:missing")
        self.assertEqual(error_code(ctx), "NotFound")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Topic does not exist")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        with self.assertRaises(ClientError) as ctx:
            self.sns.create_topic(Name="bad name!")
        self.assertEqual(error_code(ctx), "InvalidParameter")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Invalid parameter: Topic Name")
        with self.assertRaises(ClientError) as ctx:
            self.sns.publish(TopicArn="not-an-arn", Message="x")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Invalid parameter: TopicArn")
        arn = self.sns.create_topic(Name="e1")["TopicArn"]
        with self.assertRaises(ClientError) as ctx:
            self.sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
        self.assertEqual(error_code(ctx), "InvalidParameter")
        with self.assertRaises(ClientError) as ctx:
            self.sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="https://example.com")
        self.assertEqual(error_code(ctx), "InvalidParameter")
        with self.assertRaises(ClientError) as ctx:
            self.sns.confirm_subscription(TopicArn=arn, Token="nope")
        self.assertEqual(error_code(ctx), "InvalidParameter")
        with self.assertRaises(ClientError) as ctx:
            self.sns.publish(TopicArn=arn, Message="{}", MessageStructure="json")
        self.assertEqual(error_code(ctx), "InvalidParameter")
        with self.assertRaises(ClientError) as ctx:
            self.sns.get_subscription_attributes(SubscriptionArn=arn + ":00000000-0000-0000-0000-000000000000")
        self.assertEqual(error_code(ctx), "NotFound")
        other = self.server.client("sns", region="eu-west-1")
        with self.assertRaises(ClientError) as ctx:
            other.list_subscriptions_by_topic(TopicArn=arn)
        self.assertEqual(error_code(ctx), "InvalidParameter")
        with self.assertRaises(ClientError) as ctx:
            self.sns.list_platform_applications()
        self.assertEqual(error_code(ctx), "InvalidAction")

    def test_http_subscription_confirm_publish_unsubscribe(self):
        topic = self.sns.create_topic(Name="alerts")["TopicArn"]
        pending = self.sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=self.receiver.url)
        self.assertEqual(pending["SubscriptionArn"], "pending confirmation")
        headers, m = self.receiver.next()
        self.assertEqual(headers["x-amz-sns-message-type"], "SubscriptionConfirmation")
        self.assertEqual(headers["x-amz-sns-topic-arn"], topic)
        self.assertEqual(headers["x-amz-sns-message-id"], m["MessageId"])
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertEqual(list(m), ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                                   "SignatureVersion", "Signature", "SigningCertURL"])
        self.assertEqual(m["SignatureVersion"], "1")
        self.assertTrue(verify_signature(m))
        subs = self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual([s["SubscriptionArn"] for s in subs], ["PendingConfirmation"])
        self.assertEqual(self.sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"], "1")
        # AWS confirms with a plain, unsigned GET of the SubscribeURL.
        with urllib.request.urlopen(m["SubscribeURL"]) as r:
            body = r.read().decode()
        self.assertIn("<ConfirmSubscriptionResult><SubscriptionArn>%s:" % topic, body)
        sub_arn = body.split("<SubscriptionArn>")[1].split("<")[0]
        attrs = self.sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
        self.assertEqual(attrs["PendingConfirmation"], "false")
        self.assertEqual(attrs["ConfirmationWasAuthenticated"], "false")
        self.assertEqual(attrs["Endpoint"], self.receiver.url)
        self.assertEqual(self.sns.list_subscriptions()["Subscriptions"][0]["SubscriptionArn"], sub_arn)

        message_id = self.sns.publish(TopicArn=topic, Subject="Disk", Message="disk full", MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "high"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
        headers, n = self.receiver.next()
        self.assertEqual(headers["x-amz-sns-message-type"], "Notification")
        self.assertEqual(headers["x-amz-sns-subscription-arn"], sub_arn)
        self.assertEqual(n["MessageId"], message_id)
        self.assertEqual(n["Subject"], "Disk")
        self.assertEqual(n["Message"], "disk full")
        self.assertEqual(n["MessageAttributes"]["severity"], {"Type": "String", "Value": "high"})
        self.assertEqual(n["MessageAttributes"]["blob"], {"Type": "Binary", "Value": "AAE="})
        self.assertTrue(n["Timestamp"].endswith("Z"))
        self.assertTrue(verify_signature(n))
        # MessageStructure=json: the "http" entry for http subscribers.
        self.sns.publish(TargetArn=topic, Message=json.dumps({"default": "d", "http": "h"}), MessageStructure="json")
        _, n = self.receiver.next()
        self.assertEqual(n["Message"], "h")
        self.assertNotIn("Subject", n)
        self.assertTrue(verify_signature(n))

        self.sns.unsubscribe(SubscriptionArn=sub_arn)
        self.assertEqual(self.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"], [])
        self.sns.publish(TopicArn=topic, Message="nobody")
        self.receiver.assert_quiet(self)
        self.assertEqual(self.sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsDeleted"], "1")

    def test_confirm_subscription_api_and_unsubscribe_url(self):
        topic = self.sns.create_topic(Name="t2", Attributes={"SignatureVersion": "2"})["TopicArn"]
        sub_arn = self.subscribe_confirmed(topic, via_url=False)
        self.assertEqual(self.sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["ConfirmationWasAuthenticated"], "true")
        self.sns.publish(TopicArn=topic, Message="v2")
        _, n = self.receiver.next()
        self.assertEqual(n["SignatureVersion"], "2")
        self.assertTrue(verify_signature(n))
        with urllib.request.urlopen(n["UnsubscribeURL"]) as r:
            self.assertIn("UnsubscribeResponse", r.read().decode())
        self.assertEqual(self.sns.list_subscriptions()["Subscriptions"], [])

    def test_failed_delivery_is_retried(self):
        policy = {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2}}}
        topic = self.sns.create_topic(Name="retry", Attributes={"DeliveryPolicy": json.dumps(policy)})["TopicArn"]
        self.subscribe_confirmed(topic)
        self.receiver.fail = 2
        message_id = self.sns.publish(TopicArn=topic, Message="again")["MessageId"]
        ids = [self.receiver.next()[1]["MessageId"] for _ in range(3)]
        self.assertEqual(ids, [message_id] * 3)
        self.receiver.assert_quiet(self, 1.5)

    def test_https_endpoint_certificate_is_verified(self):
        # AWS delivers only to endpoints with a trusted certificate: a self-signed one gets nothing.
        receiver = Receiver(tls=True)
        try:
            topic = self.sns.create_topic(Name="tls")["TopicArn"]
            self.sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=receiver.url)
            with self.assertRaises(queue.Empty):
                receiver.messages.get(timeout=2)
        finally:
            receiver.close()

    def test_cli(self):
        arn = self.server.cli_json("sns", "create-topic", "--name", "cli-topic")["TopicArn"]
        self.assertIn(arn, [t["TopicArn"] for t in self.server.cli_json("sns", "list-topics")["Topics"]])
        self.server.cli("sns", "subscribe", "--topic-arn", arn, "--protocol", "http", "--notification-endpoint", self.receiver.url)
        _, m = self.receiver.next()
        out = self.server.cli_json("sns", "confirm-subscription", "--topic-arn", arn, "--token", m["Token"])
        self.assertTrue(out["SubscriptionArn"].startswith(arn + ":"))
        mid = self.server.cli_json("sns", "publish", "--topic-arn", arn, "--message", "from cli")["MessageId"]
        _, n = self.receiver.next()
        self.assertEqual((n["MessageId"], n["Message"]), (mid, "from cli"))
        result = self.server.cli("sns", "get-topic-attributes", "--topic-arn", arn + "-nope", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("NotFound", result.stderr)


class InsecureTls(unittest.TestCase):
    def test_https_delivery_with_insecure_tls(self):
        os.environ["VIGIL_SNS_INSECURE_TLS"] = "1"
        try:
            server = VigilServer().start()
        finally:
            del os.environ["VIGIL_SNS_INSECURE_TLS"]
        receiver = Receiver(tls=True)
        try:
            sns = server.client("sns")
            topic = sns.create_topic(Name="tls")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=receiver.url)
            _, m = receiver.next()
            sns.confirm_subscription(TopicArn=topic, Token=m["Token"])
            sns.publish(TopicArn=topic, Message="over tls")
            _, n = receiver.next()
            self.assertEqual(n["Message"], "over tls")
        finally:
            receiver.close()
            server.cleanup()


class Restart(unittest.TestCase):
    def test_topics_and_subscriptions_survive_kill_9(self):
        server = VigilServer().start()
        receiver = Receiver()
        try:
            sns = server.client("sns")
            topic = sns.create_topic(Name="durable", Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
            sub_arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url, ReturnSubscriptionArn=True)["SubscriptionArn"]
            _, m = receiver.next()
            with urllib.request.urlopen(m["SubscribeURL"]):
                pass
            server.kill()
            server.start()
            sns = server.client("sns")
            self.assertEqual([t["TopicArn"] for t in sns.list_topics()["Topics"]], [topic])
            self.assertEqual(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"], sub_arn)
            self.assertEqual(sns.list_tags_for_resource(ResourceArn=topic)["Tags"], [{"Key": "k", "Value": "v"}])
            sns.publish(TopicArn=topic, Message="after restart")
            _, n = receiver.next()
            self.assertEqual(n["Message"], "after restart")
            self.assertTrue(verify_signature(n))
        finally:
            receiver.close()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
