"""Bad input gets AWS's error shape and code: never a crash, a hang or a 500."""
import json
import socket
import unittest
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from vigil_testing import ServerTestCase


class BadInput(ServerTestCase):
    def signed(self, target, body, content_type="application/x-amz-json-1.1", service="logs"):
        request = botocore.awsrequest.AWSRequest(method="POST", url=self.server.endpoint + "/", data=body, headers={
            "Content-Type": content_type, "X-Amz-Target": target})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), service, "us-east-1").add_auth(request)
        prepared = request.prepare()
        data = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
        http_request = urllib.request.Request(prepared.url, data=data, headers=dict(prepared.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def assert_alive(self):
        self.assertEqual(self.server.client("logs").describe_log_groups()["logGroups"], [])

    def test_malformed_json(self):
        for body in ['{', '{"logGroupName": }', '[]', 'null', '"x"', b'\xff\xfe', '{"logGroupName": "a" "b"}']:
            status, answer = self.signed("Logs_20140328.CreateLogGroup", body)
            self.assertEqual(status, 400, body)
            self.assertEqual(answer["__type"], "SerializationException", body)
        self.assert_alive()

    def test_wrong_types_and_missing_members(self):
        status, answer = self.signed("Logs_20140328.CreateLogGroup", '{"logGroupName": 12}')
        self.assertEqual((status, answer["__type"]), (400, "SerializationException"))
        status, answer = self.signed("Logs_20140328.CreateLogGroup", '{}')
        self.assertEqual((status, answer["__type"]), (400, "InvalidParameterException"))
        self.assertIn("Value null at 'logGroupName' failed to satisfy constraint: Member must not be null", answer["message"])
        status, answer = self.signed("Logs_20140328.PutLogEvents",
                                     '{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":"now","message":"m"}]}')
        self.assertEqual((status, answer["__type"]), (400, "SerializationException"))
        status, answer = self.signed("Logs_20140328.GetLogEvents", '{"logGroupName":"g","logStreamName":"s","limit":99999999999}')
        self.assertEqual((status, answer["__type"]), (400, "SerializationException"))
        self.assert_alive()

    def test_unknown_operation(self):
        status, answer = self.signed("Logs_20140328.DoSomethingElse", "{}")
        self.assertEqual((status, answer["__type"]), (400, "UnknownOperationException"))
        status, answer = self.signed("Logs_20140328.CreateExportTask", '{"logGroupName":"g","fromTime":1,"to":2,"destination":"b"}')
        self.assertEqual((status, answer["__type"]), (400, "UnknownOperationException"))

    def test_oversized_body(self):
        body = '{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"%s"}]}' % ("x" * (70 << 20))
        request = urllib.request.Request(self.server.endpoint + "/", data=body.encode(), method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.PutLogEvents"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (ConnectionResetError, BrokenPipeError, urllib.error.URLError):
            status = 413  # the server may close while the client is still sending
        self.assertEqual(status, 413)
        self.assert_alive()

    def test_garbage_http(self):
        for garbage in [b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"\x00" * 100 + b"\r\n\r\n",
                        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n"]:
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
                s.sendall(garbage)
                try:
                    reply = s.recv(4096)
                except socket.timeout:
                    reply = b""
                if reply:
                    self.assertTrue(reply.startswith(b"HTTP/1.1 4"), reply[:40])
        self.assert_alive()

    def test_unsigned_and_unknown_service(self):
        request = urllib.request.Request(self.server.endpoint + "/", data=b"{}", method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request)
        self.assertEqual(e.exception.code, 400)
        self.assertEqual(json.loads(e.exception.read())["__type"], "MissingAuthenticationTokenException")

    def test_operations_not_served_yet_answer_unsupported(self):
        cloudwatch = self.server.client("cloudwatch")
        with self.assertRaises(Exception) as e:
            cloudwatch.list_metric_streams()
        self.assertIn(e.exception.response["Error"]["Code"], ("UnknownOperationException", "InvalidAction"))
        self.assertLess(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)


if __name__ == "__main__":
    unittest.main()
