// What a completed multipart object remembers of its parts (numbers, sizes, checksums: the
// basis of partNumber reads and GetObjectAttributes), records written before that, and the
// conditional writes (If-Match / If-None-Match) checked atomically with the commit.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "s3_test_fixture.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"

namespace vigil::s3 {
namespace {

class ObjectPartsTest : public S3StoreFixture {
 protected:
  void SetUp() override { set_up("vigil-s3parts", "bucket", "111111111111"); }
  UploadRecord start(const std::string& key, StoredChecksum checksum = {}) {
    UploadRecord u;
    u.bucket = "bucket";
    u.key = key;
    u.owner_account = "111111111111";
    u.initiator_arn = "arn:aws:iam::111111111111:root";
    u.initiated = 100;
    u.meta.checksum = std::move(checksum);
    return uploads_->create(u);
  }
  // A three-part object (parts 1, 3 and 7: gaps allowed), 5 MiB + 5 MiB + 3 bytes.
  ObjectRecord three_parts(const std::string& key, StoredChecksum checksum = {}, std::vector<PartRecord>* out = nullptr) {
    UploadRecord u = start(key, checksum);
    std::vector<PartRecord> parts;
    std::vector<CompletedPart> listed;
    int numbers[] = {1, 3, 7};
    for (int i = 0; i < 3; ++i) {
      std::string body = i < 2 ? std::string(kMinPartSize, static_cast<char>('a' + i)) : std::string("end");
      StoredChecksum c;
      if (!checksum.empty()) c = {checksum.algorithm, base64_encode(compute_checksum(*checksum_algorithm(checksum.algorithm), body)), {}};
      parts.push_back(uploads_->put_part(u, numbers[i], body, 110, c));
      listed.emplace_back(numbers[i], parts.back().etag, parts.back().checksum);
    }
    if (out) *out = parts;
    return uploads_->complete(u, listed, 120);
  }
};

TEST_F(ObjectPartsTest, CompleteKeepsThePartLayoutWithTheObject) {
  std::vector<PartRecord> uploaded;
  ObjectRecord o = three_parts("k", StoredChecksum{"CRC32", {}, std::string(kComposite)}, &uploaded);
  EXPECT_EQ(o.parts_count, 3u);
  auto head = objects_->head("bucket", "k");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->parts_count, 3u);
  auto parts = objects_->parts(*head);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].number, 1);
  EXPECT_EQ((*parts)[1].number, 3);
  EXPECT_EQ((*parts)[2].number, 7);
  EXPECT_EQ((*parts)[0].size, kMinPartSize);
  EXPECT_EQ((*parts)[2].size, 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*parts)[i].checksum, uploaded[i].checksum.value);
  // The bytes of part 3 are where the layout says (offset: the sizes before it).
  EXPECT_EQ(objects_->read(*head, 2 * kMinPartSize, 3), "end");
  // Durable with the object.
  open();
  head = objects_->head("bucket", "k");
  ASSERT_TRUE(head);
  parts = objects_->parts(*head);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->size(), 3u);
}

TEST_F(ObjectPartsTest, UploadsWithoutAnAlgorithmKeepSizesOnly) {
  ObjectRecord o = three_parts("k");
  auto parts = objects_->parts(o);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3u);
  for (const auto& p : *parts) EXPECT_TRUE(p.checksum.empty());
  EXPECT_EQ(o.checksum.type, kFullObject);  // the object's own default CRC64NVME
}

TEST_F(ObjectPartsTest, PartsGoWithTheVersionTheyDescribe) {
  ObjectRecord old = three_parts("k");
  // Overwritten by a single-part object: the old version's parts are gone with its file (a
  // reader still holding the old record learns that it was replaced), the new one has none.
  ObjectRecord now = objects_->put("bucket", "k", "small", {}, 200);
  EXPECT_EQ(now.parts_count, 0u);
  EXPECT_FALSE(objects_->parts(old));
  auto parts = objects_->parts(*objects_->head("bucket", "k"));
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->empty());
  // Deleted: the same.
  ObjectRecord again = three_parts("k");
  ASSERT_TRUE(objects_->parts(again));
  EXPECT_TRUE(objects_->remove("bucket", "k"));
  EXPECT_FALSE(objects_->parts(again));
  // A copy of a multipart object is one piece.
  ObjectRecord source = three_parts("src");
  ObjectRecord copy = objects_->copy("bucket", "dst", source, {}, 300, ChecksumAlgorithm::CRC32);
  EXPECT_EQ(copy.parts_count, 0u);
  EXPECT_EQ(objects_->head("bucket", "dst")->parts_count, 0u);
}

TEST(S3ObjectRecord, PartCountIsATrailingOptionalField) {
  ObjectRecord r;
  r.key = "k";
  r.size = 10;
  r.etag = "e";
  r.file = "f";
  // A record written before part records (no count after the checksum) reads as single-part.
  r.checksum = StoredChecksum{"CRC32", "AAAAAA==", std::string(kFullObject)};
  std::string legacy = ObjectStore::encode(r);
  auto decoded = ObjectStore::decode_object("k", legacy);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->parts_count, 0u);
  EXPECT_EQ(decoded->checksum.value, "AAAAAA==");
  // Older still (no data key, no checksum): the same.
  ObjectRecord plain = r;
  plain.checksum = {};
  decoded = ObjectStore::decode_object("k", ObjectStore::encode(plain));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->parts_count, 0u);
  EXPECT_TRUE(decoded->sse.empty());
  // A count without a data key or checksum before it still round-trips.
  plain.parts_count = 42;
  decoded = ObjectStore::decode_object("k", ObjectStore::encode(plain));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->parts_count, 42u);
  EXPECT_TRUE(decoded->checksum.empty());
  // Parts records: round trip, and a truncated one is refused, not read past its end.
  std::vector<ObjectPart> parts = {{1, 5, "abc"}, {4, 7, ""}};
  std::string bytes = ObjectStore::encode_parts(parts);
  auto back = ObjectStore::decode_parts(bytes);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].number, 4);
  EXPECT_EQ((*back)[1].size, 7u);
  EXPECT_EQ((*back)[0].checksum, "abc");
  EXPECT_FALSE(ObjectStore::decode_parts(bytes.substr(0, bytes.size() - 3)));
  EXPECT_FALSE(ObjectStore::decode_parts(std::string(8, '\xff')));  // an absurd count
}

TEST_F(ObjectPartsTest, ConditionalPut) {
  WriteCondition create_only;
  create_only.if_none_match = true;
  ObjectRecord first = objects_->put("bucket", "k", "one", {}, 1, create_only);
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "k", "two", {}, 2, create_only); }), "PreconditionFailed");
  EXPECT_EQ(objects_->read(*objects_->head("bucket", "k"), 0, 3), "one");  // nothing changed

  WriteCondition swap;
  swap.if_match = "\"" + md5_hex("nope") + "\"";
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "k", "two", {}, 2, swap); }), "PreconditionFailed");
  swap.if_match = first.quoted_etag();  // quoted or not
  ObjectRecord second = objects_->put("bucket", "k", "two", {}, 3, swap);
  EXPECT_EQ(objects_->read(*objects_->head("bucket", "k"), 0, 3), "two");
  // The ETag it matched is gone now: compare-and-swap fails for the loser.
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "k", "three", {}, 4, swap); }), "PreconditionFailed");
  swap.if_match = second.etag;
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "k", "three", {}, 4, swap); }), "none");

  // If-Match on a key that is not there: NoSuchKey when checked before the write, a conflict
  // when found at the commit (the object went while the body was written).
  WriteCondition missing;
  missing.if_match = "*";
  EXPECT_EQ(error_code([&] { check_write_condition(missing, nullptr, false, "absent"); }), "NoSuchKey");
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "absent", "x", {}, 5, missing); }), "ConditionalRequestConflict");
  EXPECT_FALSE(objects_->head("bucket", "absent"));
  EXPECT_EQ(error_code([&] { objects_->put("bucket", "k", "x", {}, 5, missing); }), "none");  // "*": any ETag

  // CopyObject's destination: the same check at its commit.
  ObjectRecord source = *objects_->head("bucket", "k");
  EXPECT_EQ(error_code([&] { objects_->copy("bucket", "k", source, {}, 6, ChecksumAlgorithm::CRC32, create_only); }), "PreconditionFailed");
  EXPECT_EQ(error_code([&] { objects_->copy("bucket", "copy", source, {}, 6, ChecksumAlgorithm::CRC32, create_only); }), "none");
}

TEST_F(ObjectPartsTest, ConcurrentCreateOnlyWritesHaveOneWinner) {
  // The check and the commit are one step under the store's write lock: of writers racing to
  // create the same key, exactly one succeeds and the others get 412, never a lost update.
  constexpr int kWriters = 8;
  std::atomic<int> won{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i)
    threads.emplace_back([&, i] {
      WriteCondition c;
      c.if_none_match = true;
      std::string code = error_code([&] { objects_->put("bucket", "race", "writer " + std::to_string(i), {}, 1, c); });
      if (code == "none") ++won;
      else if (code == "PreconditionFailed") ++refused;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), kWriters - 1);
}

TEST_F(ObjectPartsTest, ConditionalCompleteKeepsTheUploadOnPreconditionFailed) {
  objects_->put("bucket", "k", "exists", {}, 1);
  UploadRecord u = start("k");
  PartRecord p = uploads_->put_part(u, 1, "only part", 110);
  WriteCondition create_only;
  create_only.if_none_match = true;
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, p.etag}}, 120, {}, create_only); }), "PreconditionFailed");
  EXPECT_TRUE(uploads_->find("bucket", "k", u.upload_id));  // may be completed again
  WriteCondition matches;
  matches.if_match = md5_hex("exists");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, p.etag}}, 120, {}, matches, 8); }), "InvalidRequest");  // 9 bytes, not 8
  ObjectRecord o = uploads_->complete(u, {{1, p.etag}}, 120, {}, matches, 9);
  EXPECT_EQ(o.size, 9u);
  EXPECT_FALSE(uploads_->find("bucket", "k", u.upload_id));
}

TEST_F(ObjectPartsTest, IfMatchOnAKeyGoneAtTheCommitIsAConflict) {
  // commit_object's check is the one under the lock: an If-Match whose object is gone by then
  // is a conflict (409), and nothing is written.
  WriteCondition c;
  c.if_match = "*";
  ObjectRecord r;
  r.key = "gone";
  DurableFile f = objects_->new_file();
  f.append("x");
  r.file = f.name();
  r.etag = f.md5_hex();
  f.commit();
  EXPECT_EQ(error_code([&] { objects_->commit_object("bucket", r, nullptr, {}, {}, c); }), "ConditionalRequestConflict");
  EXPECT_FALSE(objects_->head("bucket", "gone"));
}

}  // namespace
}  // namespace vigil::s3
