// SSE-S3 at rest: AES-256-CTR object and part files under per-file data keys sealed by the
// master key; ranges at any offset, no plaintext on disk, legacy plaintext records, copies and
// multipart assembly re-encrypted, spooled bodies adopted as they were encrypted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"
#include "services/s3/sse.h"
#include "store/store.h"
#include "s3_test_fixture.h"

namespace vigil::s3 {
namespace {

class S3EncryptionTest : public S3StoreFixture {
 protected:
  void SetUp() override { set_up("vigil-s3sse", "b", "111"); }
  std::string raw(const std::string& file) {
    std::ifstream in(objects_->path_of(file), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // No file under the object directory (objects, parts, spool, temp files) holds `marker`.
  bool marker_on_disk(const std::string& marker) {
    for (auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/s3")) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::string bytes(std::istreambuf_iterator<char>(in), {});
      if (bytes.find(marker) != std::string::npos) return true;
    }
    return false;
  }
  static std::string body(size_t n, const std::string& marker) {
    std::string s;
    while (s.size() < n) s += marker + std::to_string(s.size()) + "|";
    s.resize(n);
    return s;
  }
};

TEST(S3Sse, CtrAtAnyOffsetMatchesTheWholeStream) {
  DataKey k = MasterKey::new_data_key();
  k.iv.fill(0xff);  // the counter wraps across all 128 bits
  std::string plain = "The quick brown fox jumps over the lazy dog, again and again and again.";
  std::string whole = plain;
  k.apply(0, whole.data(), whole.size());
  EXPECT_NE(whole, plain);
  for (size_t off : {0u, 1u, 15u, 16u, 17u, 31u, 33u, 47u})
    for (size_t len : {1u, 5u, 16u, 20u}) {
      if (off + len > plain.size()) continue;
      std::string piece = whole.substr(off, len);
      k.apply(off, piece.data(), piece.size());
      EXPECT_EQ(piece, plain.substr(off, len)) << off << "+" << len;
    }
}

TEST(S3Sse, SealedKeysAreAuthenticated) {
  std::array<unsigned char, 32> m1{}, m2{};
  m2[0] = 1;
  MasterKey a(m1), b(m2);
  DataKey k = MasterKey::new_data_key();
  std::string sealed = a.seal(k);
  EXPECT_EQ(sealed.size(), 77u);
  EXPECT_NE(sealed, a.seal(k));  // fresh nonce every time
  DataKey back = a.unseal(sealed);
  EXPECT_EQ(back.key, k.key);
  EXPECT_EQ(back.iv, k.iv);
  EXPECT_THROW(b.unseal(sealed), AwsError);  // another master key
  std::string altered = sealed;
  altered[20] ^= 1;
  EXPECT_THROW(a.unseal(altered), AwsError);
}

TEST_F(S3EncryptionTest, MasterKeyFileIsPrivateAndStable) {
  std::string path = dir_ + "/s3/" + ObjectStore::kMasterKeyFile;
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ObjectRecord o = objects_->put("b", "k", "survives a restart", {}, 1);
  objects_->clear_files();  // a reset keeps the key
  EXPECT_TRUE(std::filesystem::exists(path));
  o = objects_->put("b", "k", "survives a restart", {}, 1);
  open();
  EXPECT_EQ(objects_->read(*objects_->head("b", "k"), 0, o.size), "survives a restart");
}

TEST_F(S3EncryptionTest, FilesHoldCiphertextAndRangesDecrypt) {
  const std::string marker = "PLAINTEXT-MARKER-7f3a";
  std::string plain = body(300000, marker);
  ObjectRecord o = objects_->put("b", "k", plain, {}, 1);
  EXPECT_EQ(o.etag, md5_hex(plain));  // the ETag is over the plaintext
  EXPECT_FALSE(o.sse.empty());
  std::string stored = raw(o.file);
  EXPECT_EQ(stored.size(), plain.size());  // CTR: same length, same offsets
  EXPECT_NE(stored, plain);
  EXPECT_FALSE(marker_on_disk(marker));
  open();
  ObjectRecord again = *objects_->head("b", "k");
  EXPECT_EQ(again.sse, o.sse);
  EXPECT_EQ(objects_->read(again, 0, plain.size()), plain);
  for (uint64_t off : {1ull, 7ull, 15ull, 16ull, 65537ull, 131071ull, 299990ull})
    for (uint64_t len : {1ull, 3ull, 17ull, 9ull}) {
      if (off + len > plain.size()) continue;
      EXPECT_EQ(objects_->read(again, off, len), plain.substr(off, len)) << off;
    }
}

TEST_F(S3EncryptionTest, RecordWithoutKeyMaterialReadsAsPlaintext) {
  // A file and record as written before encryption at rest: no sse field in the encoding.
  DurableFile legacy("" + dir_ + "/s3", "legacy-file");  // no master key: plaintext
  legacy.append("old plaintext bytes");
  ObjectRecord meta;
  meta.key = "old";
  meta.size = legacy.size();
  meta.etag = legacy.md5_hex();
  meta.file = legacy.name();
  EXPECT_TRUE(legacy.sealed_key().empty());
  legacy.commit();
  std::string encoded = ObjectStore::encode(meta);
  auto decoded = ObjectStore::decode_object("old", encoded);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->sse.empty());
  ObjectRecord stored = objects_->commit_object("b", meta, nullptr, {});
  EXPECT_EQ(objects_->read(*objects_->head("b", "old"), 4, 9), "plaintext");
  // Copying it encrypts the copy.
  ObjectRecord copy = objects_->copy("b", "new", stored, {}, 2);
  EXPECT_FALSE(copy.sse.empty());
  EXPECT_EQ(raw(copy.file).find("plaintext"), std::string::npos);
  EXPECT_EQ(objects_->read(copy, 0, copy.size), "old plaintext bytes");
  // And an encoded record with the field round-trips it.
  auto with_key = ObjectStore::decode_object("new", ObjectStore::encode(copy));
  ASSERT_TRUE(with_key);
  EXPECT_EQ(with_key->sse, copy.sse);
}

TEST_F(S3EncryptionTest, CopyAndMultipartAreReencrypted) {
  const std::string marker = "MULTIPART-MARKER-91c2";
  std::string a = body(5 << 20, marker), b = body(1234567, marker + "b");
  ObjectRecord src = objects_->put("b", "src", a, {}, 1);
  ObjectRecord copy = objects_->copy("b", "copy", src, {}, 2);
  EXPECT_NE(copy.sse, src.sse);
  EXPECT_NE(raw(copy.file), raw(src.file));  // another data key
  EXPECT_EQ(copy.etag, src.etag);
  EXPECT_EQ(objects_->read(copy, 1048577, 99), a.substr(1048577, 99));

  UploadRecord u;
  u.bucket = "b";
  u.key = "mp";
  u.owner_account = "111";
  u.initiated = 1;
  u = uploads_->create(u);
  PartRecord p1 = uploads_->put_part(u, 1, a, 3);
  PartRecord p2 = uploads_->copy_part(u, 2, src, 17, 1234567, 4);  // a range of an encrypted object at an odd offset
  EXPECT_FALSE(p1.sse.empty());
  EXPECT_FALSE(p2.sse.empty());
  EXPECT_FALSE(marker_on_disk(marker));
  open();  // part records keep their key material
  auto parts = uploads_->list_parts(u, 0, 1000).parts;
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].sse, p1.sse);
  ObjectRecord o = uploads_->complete(u, {{1, p1.etag}, {2, p2.etag}}, 5);
  std::string expected = a + a.substr(17, 1234567);
  EXPECT_EQ(o.size, expected.size());
  EXPECT_FALSE(o.sse.empty());
  EXPECT_EQ(objects_->read(o, 0, o.size), expected);
  EXPECT_EQ(objects_->read(o, (5 << 20) - 3, 10), expected.substr((5 << 20) - 3, 10));
  EXPECT_FALSE(marker_on_disk(marker));
  (void)b;
}

TEST_F(S3EncryptionTest, SpooledBodyEncryptedUnderItsKeyIsAdopted) {
  const std::string marker = "SPOOL-MARKER-55d0";
  std::string plain = body(100000, marker);
  auto [key, sealed] = objects_->spool_key();
  std::string cipher = plain;
  key.apply(0, cipher.data(), 60000);  // as the listener does, block by block
  key.apply(60000, cipher.data() + 60000, cipher.size() - 60000);
  std::string path = objects_->spool_dir() + "/s.body";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, cipher.data(), cipher.size()), static_cast<ssize_t>(cipher.size()));
  EXPECT_FALSE(marker_on_disk(marker));
  DurableFile file = objects_->adopt_file(fd, path, cipher.size(), "", sealed);  // MD5 unknown: computed over the plaintext
  EXPECT_EQ(file.md5_hex(), md5_hex(plain));
  ObjectRecord o = objects_->put_file("b", "big", file, {}, 1);
  EXPECT_EQ(o.sse, sealed);
  EXPECT_EQ(raw(o.file), cipher);  // renamed, not rewritten
  EXPECT_EQ(objects_->read(o, 99, 1000), plain.substr(99, 1000));
}

// SSE-KMS: the account's AWS managed key (aws/s3) by each of its names, every other key
// missing as KMS reports it, the bucket's default applied to writes that chose nothing (the
// path CloudTrail's deliveries take), and the choice kept in the record across a restart.
TEST_F(S3EncryptionTest, AwsManagedKmsKeyIsStablePerAccountAndRegion) {
  std::string arn = objects_->aws_managed_kms_key("111", "us-east-1");
  EXPECT_EQ(arn.rfind("arn:aws:kms:us-east-1:111:key/", 0), 0u) << arn;
  EXPECT_EQ(arn.size(), std::string("arn:aws:kms:us-east-1:111:key/").size() + 36);
  EXPECT_EQ(arn[arn.size() - 36 + 14], '4');  // v4-shaped, as KMS key ids are
  EXPECT_NE(arn, objects_->aws_managed_kms_key("222", "us-east-1"));
  EXPECT_NE(arn.substr(arn.size() - 36), objects_->aws_managed_kms_key("111", "eu-west-1").substr(arn.size() - 36));
  open();  // the same master key file: the same key
  EXPECT_EQ(objects_->aws_managed_kms_key("111", "us-east-1"), arn);
}

TEST(S3Sse, KmsKeyIdsResolveToTheManagedKeyOrAreNotFound) {
  const std::string managed = "arn:aws:kms:us-east-1:111:key/0c3f7b2a-1111-4222-8333-444455556666";
  for (std::string id : {std::string(), std::string("alias/aws/s3"), std::string("arn:aws:kms:us-east-1:111:alias/aws/s3"), managed,
                         std::string("0c3f7b2a-1111-4222-8333-444455556666")})
    EXPECT_EQ(resolve_kms_key(id, "111", "us-east-1", managed), managed) << id;
  auto message = [&](const std::string& id) {
    try {
      resolve_kms_key(id, "111", "us-east-1", managed);
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code(), "KMS.NotFoundException");
      EXPECT_EQ(e.http_status(), 400);
      return e.message();
    }
    return std::string("resolved");
  };
  EXPECT_EQ(message("aws/s3"), "Invalid keyId aws/s3");
  EXPECT_EQ(message("alias/mine"), "Invalid keyId alias/mine");
  EXPECT_EQ(message("1234abcd-12ab-34cd-56ef-1234567890ab"), "Key 'arn:aws:kms:us-east-1:111:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist");
  EXPECT_EQ(message("arn:aws:kms:us-east-1:111:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "Key 'arn:aws:kms:us-east-1:111:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist");
  EXPECT_EQ(message("arn:aws:kms:eu-west-1:111:key/1234abcd-12ab-34cd-56ef-1234567890ab"), "Invalid arn eu-west-1");
  EXPECT_EQ(message("arn:aws:kms:us-east-1:222:alias/aws/s3"), "Invalid keyId arn:aws:kms:us-east-1:222:alias/aws/s3");  // another account's
}

TEST_F(S3EncryptionTest, BucketDefaultAppliesToWritesThatChoseNothing) {
  ObjectRecord plain = objects_->put("b", "before", "x", {}, 1);
  EXPECT_EQ(plain.encryption.algorithm, "AES256");
  EXPECT_TRUE(plain.encryption.kms_key_arn.empty());
  objects_->put_bucket_encryption("b", BucketEncryption{"aws:kms", "", true});
  ObjectRecord kms = objects_->put("b", "after", "x", {}, 1);
  EXPECT_EQ(kms.encryption.algorithm, "aws:kms");
  EXPECT_EQ(kms.encryption.kms_key_arn, objects_->aws_managed_kms_key("111", "us-east-1"));
  EXPECT_TRUE(kms.encryption.bucket_key);
  // A request's own choice wins; its bucket-key flag too.
  BucketRecord bucket = *objects_->bucket("b");
  EncryptionRequest aes;
  aes.algorithm = "AES256";
  EXPECT_EQ(objects_->resolve_encryption(bucket, aes).algorithm, "AES256");
  EncryptionRequest no_bucket_key;
  no_bucket_key.bucket_key = false;
  EXPECT_FALSE(objects_->resolve_encryption(bucket, no_bucket_key).bucket_key);
  // A default naming a key that does not exist fails the write, and nothing is stored.
  objects_->put_bucket_encryption("b", BucketEncryption{"aws:kms", "aws/s3", false});
  EXPECT_EQ(error_code([&] { objects_->put("b", "fails", "x", {}, 1); }), "KMS.NotFoundException");
  EXPECT_FALSE(objects_->head("b", "fails"));
  ASSERT_TRUE(objects_->bucket_encryption("b"));
  EXPECT_EQ(objects_->bucket_encryption("b")->kms_key_id, "aws/s3");
  // Kept in the record, with the context, across a restart.
  ObjectRecord meta;
  meta.encryption = ObjectEncryption{"aws:kms", kms.encryption.kms_key_arn, "eyJhIjoiYiJ9", false};
  objects_->put("b", "ctx", "x", meta, 1);
  open();
  auto back = objects_->head("b", "ctx");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->encryption.algorithm, "aws:kms");
  EXPECT_EQ(back->encryption.kms_key_arn, kms.encryption.kms_key_arn);
  EXPECT_EQ(back->encryption.context, "eyJhIjoiYiJ9");
  EXPECT_EQ(objects_->head("b", "after")->encryption.bucket_key, true);
  EXPECT_EQ(objects_->read(*back, 0, 1), "x");
}

}  // namespace
}  // namespace vigil::s3
