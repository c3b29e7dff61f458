"""KMS: symmetric keys and aliases driven by boto3 and the AWS CLI. Envelope encryption round
trips (Encrypt/Decrypt bound to the encryption context, GenerateDataKey, ReEncrypt); key states
as AWS enforces them (DisabledException, KMSInvalidStateException, deletion window, cancel
leaves the key disabled); AWS's not-found messages for ids, ARNs and aliases; tags, the
default key policy, paging; CloudTrail records without plaintexts; S3 SSE-KMS with a
customer managed key, refused while the key is disabled or pending deletion."""
import base64
import json
import os
import tempfile
import unittest

import botocore.exceptions

from vigil_testing import PATH_STYLE, ServerTestCase

ACCOUNT = "000000000000"


class KmsTestCase(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.kms = self.server.client("kms")

    def assert_error(self, code, fn, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        return cm.exception.response["Error"].get("Message", "")

    def create_key(self, **kwargs):
        return self.kms.create_key(**kwargs)["KeyMetadata"]


class Keys(KmsTestCase):
    def test_create_describe_list_and_aliases(self):
        meta = self.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "core"}])
        arn = "arn:aws:kms:us-east-1:%s:key/%s" % (ACCOUNT, meta["KeyId"])
        self.assertEqual(meta["Arn"], arn)
        for field, value in (("Description", "orders"), ("KeyState", "Enabled"), ("Enabled", True), ("KeyUsage", "ENCRYPT_DECRYPT"),
                             ("KeySpec", "SYMMETRIC_DEFAULT"), ("KeyManager", "CUSTOMER"), ("Origin", "AWS_KMS"), ("MultiRegion", False),
                             ("AWSAccountId", ACCOUNT), ("EncryptionAlgorithms", ["SYMMETRIC_DEFAULT"])):
            self.assertEqual(meta[field], value, field)
        self.kms.create_alias(AliasName="alias/orders", TargetKeyId=meta["KeyId"])
        for name in (meta["KeyId"], arn, "alias/orders", "arn:aws:kms:us-east-1:%s:alias/orders" % ACCOUNT):
            self.assertEqual(self.kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"], arn, name)
        aliases = self.kms.list_aliases()["Aliases"]
        self.assertEqual([(a["AliasName"], a["TargetKeyId"]) for a in aliases], [("alias/orders", meta["KeyId"])])
        self.assertEqual(aliases[0]["AliasArn"], "arn:aws:kms:us-east-1:%s:alias/orders" % ACCOUNT)
        # UpdateAlias points it elsewhere; ListAliases by key.
        other = self.create_key()
        self.kms.update_alias(AliasName="alias/orders", TargetKeyId=other["KeyId"])
        self.assertEqual(self.kms.list_aliases(KeyId=other["KeyId"])["Aliases"][0]["AliasName"], "alias/orders")
        self.assertEqual(self.kms.list_aliases(KeyId=meta["KeyId"])["Aliases"], [])
        self.kms.delete_alias(AliasName="alias/orders")
        self.assertEqual(self.kms.list_aliases()["Aliases"], [])
        # ListKeys pages with Marker.
        first = self.kms.list_keys(Limit=1)
        self.assertTrue(first["Truncated"])
        second = self.kms.list_keys(Limit=1, Marker=first["NextMarker"])
        self.assertFalse(second["Truncated"])
        self.assertEqual({k["KeyId"] for k in first["Keys"] + second["Keys"]}, {meta["KeyId"], other["KeyId"]})
        # Paginators work.
        keys = [k for page in self.kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}) for k in page["Keys"]]
        self.assertEqual(len(keys), 2)
        # Tags, description, policy, rotation status.
        self.assertEqual(self.kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"], [{"TagKey": "team", "TagValue": "core"}])
        self.kms.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "team", "TagValue": "ops"}, {"TagKey": "env", "TagValue": "ci"}])
        self.kms.untag_resource(KeyId=meta["KeyId"], TagKeys=["env"])
        self.assertEqual(self.kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"], [{"TagKey": "team", "TagValue": "ops"}])
        self.assertIn("reserved", self.assert_error("TagException", self.kms.tag_resource, KeyId=meta["KeyId"], Tags=[{"TagKey": "aws:x", "TagValue": "y"}]))
        self.kms.update_key_description(KeyId=meta["KeyId"], Description="renamed")
        self.assertEqual(self.kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"], "renamed")
        policy = json.loads(self.kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
        self.assertEqual(policy["Statement"][0]["Principal"], {"AWS": "arn:aws:iam::%s:root" % ACCOUNT})
        self.assertEqual(self.kms.list_key_policies(KeyId=meta["KeyId"])["PolicyNames"], ["default"])
        self.assertFalse(self.kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"])
        custom = {"Version": "2012-10-17", "Statement": [{"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT},
                                                         "Action": "kms:*", "Resource": "*"}]}
        self.kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=json.dumps(custom))
        self.assertEqual(json.loads(self.kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"]), custom)
        self.assert_error("MalformedPolicyDocumentException", self.kms.put_key_policy, KeyId=meta["KeyId"], PolicyName="default", Policy="[1]")

    def test_rotation(self):
        # Debian's older botocore has neither RotationPeriodInDays nor on-demand rotation.
        model = self.kms.meta.service_model
        has_period = "RotationPeriodInDays" in model.operation_model("EnableKeyRotation").input_shape.members
        key = self.create_key()
        before = self.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
        self.kms.enable_key_rotation(KeyId=key["KeyId"], **({"RotationPeriodInDays": 180} if has_period else {}))
        status = self.kms.get_key_rotation_status(KeyId=key["KeyId"])
        self.assertTrue(status["KeyRotationEnabled"])
        if has_period:
            self.assertEqual(status["RotationPeriodInDays"], 180)
            self.assertIn("NextRotationDate", status)
        if "RotateKeyOnDemand" in model.operation_names:
            self.kms.rotate_key_on_demand(KeyId=key["KeyId"])
            rotations = self.kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
            self.assertEqual([r["RotationType"] for r in rotations], ["ON_DEMAND"])
        after = self.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")["CiphertextBlob"]
        self.assertEqual(self.kms.decrypt(CiphertextBlob=before)["Plaintext"], b"before")
        self.assertEqual(self.kms.decrypt(CiphertextBlob=after)["Plaintext"], b"after")
        self.kms.disable_key_rotation(KeyId=key["KeyId"])
        self.assertFalse(self.kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"])

    def test_not_found_and_validation_errors(self):
        missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
        self.assertEqual(self.assert_error("NotFoundException", self.kms.describe_key, KeyId=missing),
                         "Key 'arn:aws:kms:us-east-1:%s:key/%s' does not exist" % (ACCOUNT, missing))
        self.assertEqual(self.assert_error("NotFoundException", self.kms.describe_key, KeyId="foo"), "Invalid keyId 'foo'")
        self.assertEqual(self.assert_error("NotFoundException", self.kms.describe_key, KeyId="alias/none"),
                         "Alias arn:aws:kms:us-east-1:%s:alias/none is not found." % ACCOUNT)
        self.assertEqual(self.assert_error("NotFoundException", self.kms.describe_key, KeyId="arn:aws:kms:eu-west-1:%s:key/%s" % (ACCOUNT, missing)),
                         "Invalid arn eu-west-1")
        key = self.create_key()["KeyId"]
        self.assertIn('must start with the prefix "alias/"', self.assert_error("ValidationException", self.kms.create_alias, AliasName="orders", TargetKeyId=key))
        self.assert_error("NotAuthorizedException", self.kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key)
        self.kms.create_alias(AliasName="alias/a", TargetKeyId=key)
        self.assertEqual(self.assert_error("AlreadyExistsException", self.kms.create_alias, AliasName="alias/a", TargetKeyId=key),
                         "An alias with the name arn:aws:kms:us-east-1:%s:alias/a already exists" % ACCOUNT)
        self.assertEqual(self.assert_error("ValidationException", self.kms.create_alias, AliasName="alias/b", TargetKeyId="alias/a"),
                         "Aliases must refer to keys. Not aliases")
        self.assert_error("NotFoundException", self.kms.delete_alias, AliasName="alias/none")
        self.assert_error("UnsupportedOperationException", self.kms.create_key, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
        self.assert_error("ValidationException", self.kms.generate_data_key, KeyId=key)
        self.assert_error("ValidationException", self.kms.encrypt, KeyId=key, Plaintext=b"x" * 4097)


class Crypto(KmsTestCase):
    def test_encrypt_decrypt_data_keys_and_re_encrypt(self):
        key = self.create_key()
        self.kms.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
        out = self.kms.encrypt(KeyId="alias/app", Plaintext=b"s3cr3t", EncryptionContext={"tenant": "a"})
        self.assertEqual((out["KeyId"], out["EncryptionAlgorithm"]), (key["Arn"], "SYMMETRIC_DEFAULT"))
        self.assertNotIn(b"s3cr3t", out["CiphertextBlob"])
        plain = self.kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"tenant": "a"})
        self.assertEqual((plain["Plaintext"], plain["KeyId"]), (b"s3cr3t", key["Arn"]))
        # The context is bound to the ciphertext; so are its bytes.
        self.assert_error("InvalidCiphertextException", self.kms.decrypt, CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"tenant": "b"})
        self.assert_error("InvalidCiphertextException", self.kms.decrypt, CiphertextBlob=out["CiphertextBlob"])
        damaged = out["CiphertextBlob"][:-1] + bytes([out["CiphertextBlob"][-1] ^ 1])
        self.assert_error("InvalidCiphertextException", self.kms.decrypt, CiphertextBlob=damaged, EncryptionContext={"tenant": "a"})
        self.assert_error("InvalidCiphertextException", self.kms.decrypt, CiphertextBlob=b"not a blob")
        other = self.create_key()
        self.assert_error("IncorrectKeyException", self.kms.decrypt, CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"tenant": "a"},
                          KeyId=other["KeyId"])
        moved = self.kms.re_encrypt(CiphertextBlob=out["CiphertextBlob"], SourceEncryptionContext={"tenant": "a"}, DestinationKeyId=other["KeyId"])
        self.assertEqual((moved["SourceKeyId"], moved["KeyId"]), (key["Arn"], other["Arn"]))
        self.assertEqual(self.kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"], b"s3cr3t")
        # Data keys: the plaintext and its sealed copy agree.
        dk = self.kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
        self.assertEqual(len(dk["Plaintext"]), 32)
        self.assertEqual(self.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"], dk["Plaintext"])
        sealed = self.kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=24)
        self.assertNotIn("Plaintext", sealed)
        self.assertEqual(len(self.kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])["Plaintext"]), 24)
        self.assertEqual(len(self.kms.generate_random(NumberOfBytes=40)["Plaintext"]), 40)
        # CloudTrail records which key, never the plaintext or the ciphertext.
        ct = self.server.client("cloudtrail")
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}])["Events"]
        record = json.loads(events[0]["CloudTrailEvent"])
        self.assertEqual(record["eventSource"], "kms.amazonaws.com")
        self.assertEqual(record["requestParameters"]["keyId"], "alias/app")  # AWS's record names: keyId, not KeyId
        self.assertNotIn("plaintext", record["requestParameters"])
        self.assertNotIn("s3cr3t", events[0]["CloudTrailEvent"])
        self.assertNotIn(base64.b64encode(b"s3cr3t").decode(), events[0]["CloudTrailEvent"])
        self.assertIsNone(record["responseElements"])  # AWS never records what Encrypt returns
        for name, secret in (("Decrypt", plain["Plaintext"]), ("GenerateDataKey", dk["Plaintext"])):
            events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
            self.assertTrue(events, name)
            self.assertNotIn(base64.b64encode(secret).decode(), events[0]["CloudTrailEvent"], name)
            self.assertIsNone(json.loads(events[0]["CloudTrailEvent"])["responseElements"], name)

    def test_key_states(self):
        key = self.create_key()
        arn = key["Arn"]
        self.kms.disable_key(KeyId=key["KeyId"])
        self.assertEqual(self.assert_error("DisabledException", self.kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x"), arn + " is disabled.")
        self.kms.enable_key(KeyId=key["KeyId"])
        blob = self.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        out = self.kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        self.assertEqual((out["KeyId"], out["KeyState"], out["PendingWindowInDays"]), (arn, "PendingDeletion", 7))
        meta = self.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        self.assertEqual((meta["KeyState"], meta["Enabled"]), ("PendingDeletion", False))
        self.assertEqual(meta["DeletionDate"], out["DeletionDate"])
        self.assertEqual(self.assert_error("KMSInvalidStateException", self.kms.decrypt, CiphertextBlob=blob), arn + " is pending deletion.")
        self.assert_error("KMSInvalidStateException", self.kms.enable_key, KeyId=key["KeyId"])
        self.assertEqual(self.assert_error("ValidationException", self.kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=31),
                         "PendingWindowInDays should be between 7 and 30, but it is 31")
        self.assertEqual(self.kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"], arn)
        meta = self.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        self.assertEqual(meta["KeyState"], "Disabled")  # as AWS leaves a key whose deletion was canceled
        self.assertNotIn("DeletionDate", meta)
        self.kms.enable_key(KeyId=key["KeyId"])
        self.assertEqual(self.kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"x")

    def test_keys_survive_a_restart(self):
        key = self.create_key(Description="durable")
        self.kms.create_alias(AliasName="alias/durable", TargetKeyId=key["KeyId"])
        blob = self.kms.encrypt(KeyId="alias/durable", Plaintext=b"kept")["CiphertextBlob"]
        self.server.stop()
        self.server.start()
        kms = self.server.client("kms")
        self.assertEqual(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"kept")
        self.assertEqual(kms.describe_key(KeyId="alias/durable")["KeyMetadata"]["Description"], "durable")


class S3WithCustomerKeys(KmsTestCase):
    def test_sse_kms_with_a_customer_key(self):
        s3 = self.server.client("s3", **PATH_STYLE)
        s3.create_bucket(Bucket="kms-bucket")
        key = self.create_key()
        self.kms.create_alias(AliasName="alias/s3-data", TargetKeyId=key["KeyId"])
        out = s3.put_object(Bucket="kms-bucket", Key="a", Body=b"hello", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/s3-data")
        self.assertEqual((out["ServerSideEncryption"], out["SSEKMSKeyId"]), ("aws:kms", key["Arn"]))
        head = s3.head_object(Bucket="kms-bucket", Key="a")
        self.assertEqual(head["SSEKMSKeyId"], key["Arn"])
        # The bucket default may name it too.
        s3.put_bucket_encryption(Bucket="kms-bucket", ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["KeyId"]}}]})
        self.assertEqual(s3.put_object(Bucket="kms-bucket", Key="b", Body=b"x")["SSEKMSKeyId"], key["Arn"])
        # The AWS managed key S3 uses is one KMS describes.
        managed = s3.put_object(Bucket="kms-bucket", Key="m", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/aws/s3")["SSEKMSKeyId"]
        meta = self.kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
        self.assertEqual((meta["Arn"], meta["KeyManager"]), (managed, "AWS"))
        self.assertIn("alias/aws/s3", [a["AliasName"] for a in self.kms.list_aliases()["Aliases"]])
        # A disabled key fails writes, reads and copies of its objects; HEAD still answers.
        self.kms.disable_key(KeyId=key["KeyId"])
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            s3.get_object(Bucket="kms-bucket", Key="a")
        self.assertEqual((cm.exception.response["Error"]["Code"], cm.exception.response["Error"]["Message"]),
                         ("KMS.DisabledException", key["Arn"] + " is disabled."))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            s3.put_object(Bucket="kms-bucket", Key="c", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "KMS.DisabledException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            s3.copy_object(Bucket="kms-bucket", Key="copy", CopySource="kms-bucket/a", ServerSideEncryption="AES256")
        self.assertEqual(cm.exception.response["Error"]["Code"], "KMS.DisabledException")
        self.assertEqual(s3.head_object(Bucket="kms-bucket", Key="a")["ContentLength"], 5)
        self.kms.enable_key(KeyId=key["KeyId"])
        self.assertEqual(s3.get_object(Bucket="kms-bucket", Key="a")["Body"].read(), b"hello")
        self.kms.schedule_key_deletion(KeyId=key["KeyId"])
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            s3.get_object(Bucket="kms-bucket", Key="a")
        self.assertEqual(cm.exception.response["Error"]["Code"], "KMS.KMSInvalidStateException")


class Cli(KmsTestCase):
    def test_cli_round_trip(self):
        key = self.server.cli_json("kms", "create-key", "--description", "cli")["KeyMetadata"]
        self.server.cli("kms", "create-alias", "--alias-name", "alias/cli", "--target-key-id", key["KeyId"])
        with tempfile.TemporaryDirectory() as d:
            plain = os.path.join(d, "plain")
            with open(plain, "wb") as f:
                f.write(b"from the cli")
            out = self.server.cli_json("kms", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://" + plain,
                                       "--encryption-context", "app=cli")
            blob = os.path.join(d, "blob")
            with open(blob, "wb") as f:
                f.write(base64.b64decode(out["CiphertextBlob"]))
            back = self.server.cli_json("kms", "decrypt", "--ciphertext-blob", "fileb://" + blob, "--encryption-context", "app=cli")
            self.assertEqual(base64.b64decode(back["Plaintext"]), b"from the cli")
            self.assertEqual(back["KeyId"], key["Arn"])
        aliases = self.server.cli_json("kms", "list-aliases")["Aliases"]
        self.assertEqual([a["AliasName"] for a in aliases], ["alias/cli"])
        result = self.server.cli("kms", "describe-key", "--key-id", "alias/none", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("NotFoundException", result.stderr)


if __name__ == "__main__":
    unittest.main()
