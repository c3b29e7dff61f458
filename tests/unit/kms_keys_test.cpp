// KMS keys: envelope encryption round trips (context bound, blob names its key), key states
// as AWS enforces them, aliases, the AWS managed key S3 already used, deletion after the
// window (the injected clock), persistence across a restart, and S3 SSE-KMS naming them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "core/aws_error.h"
#include "core/clock.h"
#include "services/kms/keys.h"
#include "services/s3/object_store.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::kms {
namespace {

const std::string kAccount = "111122223333", kRegion = "us-east-1";

class KmsKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("kms");
    open();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void close() {
    keys_.reset();
    objects_.reset();
    store_.reset();
  }
  void open() {
    close();
    store_ = store::Store::open(dir_ + "/db");
    objects_ = std::make_unique<s3::ObjectStore>(*store_, dir_ + "/s3");
    keys_ = std::make_unique<KeyStore>(*store_, clock_, objects_->master_key());
    keys_->load();
    objects_->set_kms(keys_.get());
  }
  Value in(std::initializer_list<std::pair<const char*, Value>> members) {
    Value v = Value::map();
    for (const auto& [k, m] : members) v.set(k, m);
    return v;
  }
  std::string create(const std::string& description = "") {
    return std::string(keys_->create_key(kAccount, kRegion, in({{"Description", description}})).get("KeyMetadata")->str("KeyId"));
  }
  // The error code and message `f` throws, or "ok".
  template <class F>
  std::pair<std::string, std::string> error(F&& f) {
    try {
      f();
    } catch (const AwsError& e) {
      return {e.code(), e.message()};
    }
    return {"ok", ""};
  }
  Value context(const char* k, const char* v) { return in({{k, Value(v)}}); }

  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<s3::ObjectStore> objects_;
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(KmsKeysTest, EncryptDecryptIsBoundToTheContextAndNamesItsKey) {
  std::string id = create("demo");
  Value sealed = keys_->encrypt(kAccount, kRegion, in({{"KeyId", id}, {"Plaintext", Blob{"secret"}}, {"EncryptionContext", context("purpose", "test")}}));
  const std::string arn = "arn:aws:kms:us-east-1:111122223333:key/" + id;
  EXPECT_EQ(sealed.str("KeyId"), arn);
  const Blob blob = sealed.get("CiphertextBlob")->as_blob();
  EXPECT_EQ(blob.bytes.find("secret"), std::string::npos);
  // No KeyId needed: the blob names its key.
  Value plain = keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}, {"EncryptionContext", context("purpose", "test")}}));
  EXPECT_EQ(plain.get("Plaintext")->as_blob().bytes, "secret");
  EXPECT_EQ(plain.str("KeyId"), arn);
  // Another context, none, a flipped bit, another account: InvalidCiphertextException.
  EXPECT_EQ(error([&] { keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}, {"EncryptionContext", context("purpose", "other")}})); }).first,
            "InvalidCiphertextException");
  EXPECT_EQ(error([&] { keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}})); }).first, "InvalidCiphertextException");
  Blob flipped = blob;
  flipped.bytes.back() ^= 1;
  EXPECT_EQ(error([&] { keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", flipped}, {"EncryptionContext", context("purpose", "test")}})); }).first,
            "InvalidCiphertextException");
  EXPECT_EQ(error([&] { keys_->decrypt("999999999999", kRegion, in({{"CiphertextBlob", blob}, {"EncryptionContext", context("purpose", "test")}})); }).first,
            "InvalidCiphertextException");
  // A KeyId that is not the blob's key.
  std::string other = create();
  EXPECT_EQ(error([&] { keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}, {"KeyId", other}, {"EncryptionContext", context("purpose", "test")}})); }).first,
            "IncorrectKeyException");
  // ReEncrypt moves it to the other key without the caller seeing the plaintext.
  Value moved = keys_->re_encrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}, {"SourceEncryptionContext", context("purpose", "test")}, {"DestinationKeyId", other}}));
  EXPECT_EQ(moved.str("SourceKeyId"), arn);
  EXPECT_EQ(keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", *moved.get("CiphertextBlob")}})).get("Plaintext")->as_blob().bytes, "secret");
}

TEST_F(KmsKeysTest, DataKeysDecryptToTheirPlaintext) {
  std::string id = create();
  Value dk = keys_->generate_data_key(kAccount, kRegion, in({{"KeyId", id}, {"KeySpec", "AES_128"}}), true);
  EXPECT_EQ(dk.get("Plaintext")->as_blob().bytes.size(), 16u);
  EXPECT_EQ(keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", *dk.get("CiphertextBlob")}})).get("Plaintext")->as_blob(), dk.get("Plaintext")->as_blob());
  Value without = keys_->generate_data_key(kAccount, kRegion, in({{"KeyId", id}, {"NumberOfBytes", 64}}), false);
  EXPECT_FALSE(without.has("Plaintext"));
  EXPECT_EQ(keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", *without.get("CiphertextBlob")}})).get("Plaintext")->as_blob().bytes.size(), 64u);
  EXPECT_EQ(error([&] { keys_->generate_data_key(kAccount, kRegion, in({{"KeyId", id}}), true); }),
            std::make_pair(std::string("ValidationException"), std::string("Please specify either number of bytes or key spec.")));
}

TEST_F(KmsKeysTest, KeyStatesAndNamesAsAwsAnswers) {
  std::string id = create();
  const std::string arn = "arn:aws:kms:us-east-1:111122223333:key/" + id;
  auto encrypt = [&](const std::string& key) { keys_->encrypt(kAccount, kRegion, in({{"KeyId", key}, {"Plaintext", Blob{"x"}}})); };
  keys_->create_alias(kAccount, kRegion, in({{"AliasName", "alias/app"}, {"TargetKeyId", id}}));
  for (const std::string& name : {id, arn, std::string("alias/app"), std::string("arn:aws:kms:us-east-1:111122223333:alias/app")})
    EXPECT_EQ(error([&] { encrypt(name); }).first, "ok") << name;
  EXPECT_EQ(error([&] { encrypt("foo"); }), std::make_pair(std::string("NotFoundException"), std::string("Invalid keyId 'foo'")));
  EXPECT_EQ(error([&] { encrypt("alias/none"); }).second, "Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.");
  EXPECT_EQ(error([&] { encrypt("arn:aws:kms:eu-west-1:111122223333:key/" + id); }).second, "Invalid arn eu-west-1");
  EXPECT_EQ(error([&] { keys_->create_alias(kAccount, kRegion, in({{"AliasName", "alias/app"}, {"TargetKeyId", id}})); }).first, "AlreadyExistsException");
  EXPECT_EQ(error([&] { keys_->create_alias(kAccount, kRegion, in({{"AliasName", "app"}, {"TargetKeyId", id}})); }).first, "ValidationException");
  EXPECT_EQ(error([&] { keys_->create_alias(kAccount, kRegion, in({{"AliasName", "alias/aws/x"}, {"TargetKeyId", id}})); }).first, "NotAuthorizedException");

  keys_->disable_key(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_EQ(error([&] { encrypt(id); }), std::make_pair(std::string("DisabledException"), arn + " is disabled."));
  keys_->enable_key(kAccount, kRegion, in({{"KeyId", id}}));
  Value scheduled = keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", id}, {"PendingWindowInDays", 7}}));
  EXPECT_EQ(scheduled.str("KeyId"), arn);
  EXPECT_EQ(scheduled.str("KeyState"), "PendingDeletion");
  EXPECT_EQ(error([&] { encrypt(id); }), std::make_pair(std::string("KMSInvalidStateException"), arn + " is pending deletion."));
  EXPECT_EQ(error([&] { keys_->enable_key(kAccount, kRegion, in({{"KeyId", id}})); }).first, "KMSInvalidStateException");
  keys_->cancel_key_deletion(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_EQ(keys_->describe_key(kAccount, kRegion, in({{"KeyId", id}})).get("KeyMetadata")->str("KeyState"), "Disabled");  // as AWS leaves it
  EXPECT_FALSE(keys_->describe_key(kAccount, kRegion, in({{"KeyId", id}})).get("KeyMetadata")->has("DeletionDate"));
  EXPECT_EQ(error([&] { keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", id}, {"PendingWindowInDays", 6}})); }).second,
            "PendingWindowInDays should be between 7 and 30, but it is 6");

  // After the window the key and its alias are gone.
  keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", id}}));
  clock_.advance(std::chrono::hours(24 * 30 - 1));
  EXPECT_EQ(error([&] { keys_->describe_key(kAccount, kRegion, in({{"KeyId", id}})); }).first, "ok");
  clock_.advance(std::chrono::hours(1));
  EXPECT_EQ(error([&] { keys_->describe_key(kAccount, kRegion, in({{"KeyId", id}})); }), std::make_pair(std::string("NotFoundException"), "Key '" + arn + "' does not exist"));
  EXPECT_EQ(keys_->list_aliases(kAccount, kRegion, Value::map()).get("Aliases")->size(), 0u);
  EXPECT_EQ(keys_->list_keys(kAccount, kRegion, Value::map()).get("Keys")->size(), 0u);
}

TEST_F(KmsKeysTest, RotationAddsMaterialAndOldCiphertextsStillDecrypt) {
  std::string id = create();
  auto encrypt = [&](const char* text) { return *keys_->encrypt(kAccount, kRegion, in({{"KeyId", id}, {"Plaintext", Blob{text}}})).get("CiphertextBlob"); };
  auto decrypt = [&](const Value& blob) { return keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", blob}})).get("Plaintext")->as_blob().bytes; };
  Value first = encrypt("one");
  keys_->set_key_rotation(kAccount, kRegion, in({{"KeyId", id}, {"RotationPeriodInDays", 90}}), true);
  Value status = keys_->get_key_rotation_status(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_TRUE(status.flag("KeyRotationEnabled", false));
  EXPECT_EQ(status.i64("RotationPeriodInDays", 0), 90);
  EXPECT_EQ(error([&] { keys_->set_key_rotation(kAccount, kRegion, in({{"KeyId", id}, {"RotationPeriodInDays", 89}}), true); }).first, "ValidationException");
  // Not due yet: the same material.
  clock_.advance(std::chrono::hours(24 * 89));
  Value second = encrypt("two");
  EXPECT_EQ(first.as_blob().bytes.substr(0, 41), second.as_blob().bytes.substr(0, 41));  // version, id, material index 0
  // Due: new material, dated when due; old ciphertexts still decrypt; a restart keeps all.
  clock_.advance(std::chrono::hours(24 * 2));
  Value third = encrypt("three");
  EXPECT_NE(first.as_blob().bytes.substr(0, 41), third.as_blob().bytes.substr(0, 41));
  keys_->rotate_key_on_demand(kAccount, kRegion, in({{"KeyId", id}}));
  Value fourth = encrypt("four");
  open();
  EXPECT_EQ(decrypt(first), "one");
  EXPECT_EQ(decrypt(second), "two");
  EXPECT_EQ(decrypt(third), "three");
  EXPECT_EQ(decrypt(fourth), "four");
  Value rotations = *keys_->list_key_rotations(kAccount, kRegion, in({{"KeyId", id}})).get("Rotations");
  ASSERT_EQ(rotations.size(), 2u);
  EXPECT_EQ(rotations.as_list()[0].str("RotationType"), "AUTOMATIC");
  EXPECT_EQ(rotations.as_list()[1].str("RotationType"), "ON_DEMAND");
  // A blob naming material the key does not have is not a ciphertext.
  Blob forged = fourth.as_blob();
  forged.bytes[1 + 36 + 3] = 9;
  EXPECT_EQ(error([&] { keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", forged}})); }).first, "InvalidCiphertextException");
  keys_->set_key_rotation(kAccount, kRegion, in({{"KeyId", id}}), false);
  EXPECT_FALSE(keys_->get_key_rotation_status(kAccount, kRegion, in({{"KeyId", id}})).flag("KeyRotationEnabled", true));
}

TEST_F(KmsKeysTest, ObjectsWrittenBeforeKmsStillReadWithTheManagedKey) {
  // An object S3 encrypted with aws/s3 before the KMS service existed names the derived ARN of
  // a key KMS has not created: reading it creates the key instead of failing.
  objects_->set_kms(nullptr);
  objects_->create_bucket(s3::BucketRecord{"old", kAccount, kRegion, 1});
  s3::EncryptionRequest request;
  request.algorithm = "aws:kms";
  s3::ObjectRecord meta;
  meta.encryption = objects_->resolve_encryption(*objects_->bucket("old"), request);
  s3::ObjectRecord stored = objects_->put("old", "k", "body", meta, 1);
  objects_->set_kms(keys_.get());
  EXPECT_EQ(error([&] { objects_->check_kms_key(stored.encryption); }).first, "ok");
  EXPECT_EQ(keys_->describe_key(kAccount, kRegion, in({{"KeyId", "alias/aws/s3"}})).get("KeyMetadata")->str("Arn"), stored.encryption.kms_key_arn);
}

TEST_F(KmsKeysTest, KeysAliasesAndTagsSurviveARestartAndPage) {
  std::string a = create("first"), b = create("second");
  keys_->create_alias(kAccount, kRegion, in({{"AliasName", "alias/a"}, {"TargetKeyId", a}}));
  Value tags = Value::list();
  tags.push(in({{"TagKey", "team"}, {"TagValue", "core"}}));
  keys_->tag_resource(kAccount, kRegion, in({{"KeyId", b}, {"Tags", tags}}));
  Value sealed = keys_->encrypt(kAccount, kRegion, in({{"KeyId", "alias/a"}, {"Plaintext", Blob{"kept"}}}));
  open();  // a restart: the material is unsealed again from the store
  EXPECT_EQ(keys_->decrypt(kAccount, kRegion, in({{"CiphertextBlob", *sealed.get("CiphertextBlob")}})).get("Plaintext")->as_blob().bytes, "kept");
  EXPECT_EQ(keys_->describe_key(kAccount, kRegion, in({{"KeyId", "alias/a"}})).get("KeyMetadata")->str("Description"), "first");
  EXPECT_EQ(keys_->list_resource_tags(kAccount, kRegion, in({{"KeyId", b}})).get("Tags")->as_list()[0].str("TagValue"), "core");
  Value page = keys_->list_keys(kAccount, kRegion, in({{"Limit", 1}}));
  ASSERT_EQ(page.get("Keys")->size(), 1u);
  EXPECT_TRUE(page.flag("Truncated", false));
  Value rest = keys_->list_keys(kAccount, kRegion, in({{"Limit", 1}, {"Marker", std::string(page.str("NextMarker"))}}));
  ASSERT_EQ(rest.get("Keys")->size(), 1u);
  EXPECT_FALSE(rest.flag("Truncated", true));
  EXPECT_NE(page.get("Keys")->as_list()[0].str("KeyId"), rest.get("Keys")->as_list()[0].str("KeyId"));
  EXPECT_EQ(keys_->list_keys("999999999999", kRegion, Value::map()).get("Keys")->size(), 0u);  // accounts never see each other's keys
}

TEST_F(KmsKeysTest, S3UsesTheManagedKeyAndCustomerKeysWhileTheyAreUsable) {
  // The aws/s3 key S3 reported before KMS existed is the one KMS now describes.
  const std::string managed = objects_->aws_managed_kms_key(kAccount, kRegion);
  Value described = keys_->describe_key(kAccount, kRegion, in({{"KeyId", "alias/aws/s3"}}));
  EXPECT_EQ(described.get("KeyMetadata")->str("Arn"), managed);
  EXPECT_EQ(described.get("KeyMetadata")->str("KeyManager"), "AWS");
  const std::string managed_id(described.get("KeyMetadata")->str("KeyId"));
  for (auto change : {&KeyStore::disable_key, &KeyStore::enable_key, &KeyStore::update_key_description})
    EXPECT_EQ(error([&] { (keys_.get()->*change)(kAccount, kRegion, in({{"KeyId", managed_id}})); }).first, "AccessDeniedException");
  EXPECT_EQ(error([&] { keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", managed_id}})); }).first, "AccessDeniedException");

  objects_->create_bucket(s3::BucketRecord{"b", kAccount, kRegion, 1});
  const s3::BucketRecord bucket = *objects_->bucket("b");
  std::string id = create();
  keys_->create_alias(kAccount, kRegion, in({{"AliasName", "alias/s3"}, {"TargetKeyId", id}}));
  s3::EncryptionRequest request;
  request.algorithm = "aws:kms";
  request.kms_key_id = "alias/s3";
  EXPECT_EQ(objects_->resolve_encryption(bucket, request).kms_key_arn, "arn:aws:kms:us-east-1:111122223333:key/" + id);
  request.kms_key_id.clear();
  EXPECT_EQ(objects_->resolve_encryption(bucket, request).kms_key_arn, managed);
  request.kms_key_id = "alias/none";
  EXPECT_EQ(error([&] { objects_->resolve_encryption(bucket, request); }).first, "KMS.NotFoundException");

  s3::ObjectRecord meta;
  request.kms_key_id = id;
  meta.encryption = objects_->resolve_encryption(bucket, request);
  s3::ObjectRecord stored = objects_->put("b", "k", "body", meta, 1);
  EXPECT_EQ(error([&] { objects_->check_kms_key(stored.encryption); }).first, "ok");
  keys_->disable_key(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_EQ(error([&] { objects_->check_kms_key(stored.encryption); }).first, "KMS.DisabledException");
  EXPECT_EQ(error([&] { objects_->resolve_encryption(bucket, request); }).first, "KMS.DisabledException");
  keys_->enable_key(kAccount, kRegion, in({{"KeyId", id}}));
  keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_EQ(error([&] { objects_->check_kms_key(stored.encryption); }).first, "KMS.KMSInvalidStateException");
}

TEST_F(KmsKeysTest, SseKmsObjectsDataKeysAreWrappedByTheirKmsKey) {
  // Envelope encryption: the file's data key is wrapped by the object's KMS key, so the master
  // key alone no longer opens it, a disabled key stops reads, rotation keeps old objects
  // readable and deleting the key shreds them.
  objects_->create_bucket(s3::BucketRecord{"b", kAccount, kRegion, 1});
  const s3::BucketRecord bucket = *objects_->bucket("b");
  const std::string id = create();
  s3::EncryptionRequest request;
  request.algorithm = "aws:kms";
  request.kms_key_id = id;
  s3::ObjectRecord meta;
  meta.encryption = objects_->resolve_encryption(bucket, request);
  s3::ObjectRecord stored = objects_->put("b", "k", "secret body", meta, 1);
  ASSERT_FALSE(stored.sse.empty());
  EXPECT_EQ(stored.sse[0], '\x02');
  EXPECT_NE(stored.sse.find(meta.encryption.kms_key_arn), std::string::npos);
  EXPECT_EQ(objects_->head("b", "k")->sse, stored.sse);  // what was committed is the wrapped form
  EXPECT_EQ(objects_->read(stored, 0, 11), "secret body");
  EXPECT_EQ(objects_->read(stored, 7, 4), "body");  // ranges still decrypt on their own

  // SSE-S3 objects keep the master-sealed key; a copy re-encrypts under the destination's choice.
  s3::ObjectRecord plain_meta;
  plain_meta.encryption = objects_->resolve_encryption(bucket, {});
  s3::ObjectRecord copied = objects_->copy("b", "copy", stored, plain_meta, 2, s3::ChecksumAlgorithm::None);
  EXPECT_EQ(copied.sse[0], '\x01');
  EXPECT_EQ(objects_->read(copied, 0, 11), "secret body");

  objects_->set_kms(nullptr);  // the master key alone cannot open it
  EXPECT_ANY_THROW(objects_->read(stored, 0, 11));
  objects_->set_kms(keys_.get());

  keys_->disable_key(kAccount, kRegion, in({{"KeyId", id}}));
  EXPECT_EQ(error([&] { objects_->read(stored, 0, 11); }).first, "KMS.DisabledException");
  keys_->enable_key(kAccount, kRegion, in({{"KeyId", id}}));
  keys_->rotate_key_on_demand(kAccount, kRegion, in({{"KeyId", id}}));
  s3::ObjectRecord after_rotation = objects_->put("b", "k2", "newer", meta, 3);
  open();  // a restart: the wrapped keys are in the records, the materials in the store
  EXPECT_EQ(objects_->read(stored, 0, 11), "secret body");
  EXPECT_EQ(objects_->read(after_rotation, 0, 5), "newer");

  // A wrapped key copied to another object of the same key does not unwrap (it is bound to
  // its file), nor does one moved to another key's object.
  s3::ObjectRecord moved = after_rotation;
  moved.sse = stored.sse;
  EXPECT_ANY_THROW(objects_->read(moved, 0, 5));
  const std::string other = create();
  request.kms_key_id = other;
  s3::ObjectRecord other_meta;
  other_meta.encryption = objects_->resolve_encryption(bucket, request);
  s3::ObjectRecord forged = objects_->put("b", "k3", "other", other_meta, 4);
  forged.sse = stored.sse.substr(0, 2) + forged.encryption.kms_key_arn + stored.sse.substr(2 + stored.encryption.kms_key_arn.size());
  EXPECT_ANY_THROW(objects_->read(forged, 0, 5));

  keys_->schedule_key_deletion(kAccount, kRegion, in({{"KeyId", id}, {"PendingWindowInDays", 7}}));
  clock_.advance(std::chrono::hours(24 * 7 + 1));
  EXPECT_EQ(error([&] { objects_->read(stored, 0, 11); }).first, "KMS.NotFoundException");
  EXPECT_EQ(objects_->read(copied, 0, 11), "secret body");  // the SSE-S3 copy is its own
}

}  // namespace
}  // namespace vigil::kms
