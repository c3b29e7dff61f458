// The S3 multipart model without HTTP: parts on disk, S3's completion rules and ETag,
// listing with markers, abort and bucket deletion cleaning up, durability across a reopen.
#include "services/s3/multipart.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "store/store.h"
#include "s3_test_fixture.h"

namespace vigil::s3 {
namespace {

class MultipartTest : public S3StoreFixture {
 protected:
  void SetUp() override { set_up("vigil-s3mp", "bucket", "111111111111"); }
  UploadRecord start(const std::string& key, double now = 100) {
    UploadRecord u;
    u.bucket = "bucket";
    u.key = key;
    u.owner_account = "111111111111";
    u.initiator_arn = "arn:aws:iam::111111111111:root";
    u.initiated = now;
    u.meta.content_type = "text/plain";
    u.meta.metadata = {{"colour", "blue"}};
    return uploads_->create(u);
  }
  size_t file_count() {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_ + "/s3"))
      n += e.is_regular_file() && e.path().filename() != ObjectStore::kMasterKeyFile;  // object and part files only
    return n;
  }
};

TEST(S3MultipartEtag, Md5OfBinaryPartMd5s) {
  std::string a = md5_hex("a"), b = md5_hex("b");
  // MD5(md5("a") || md5("b")) as raw bytes, then "-2" (what every S3 tool computes).
  std::string raw;
  for (const std::string& h : {a, b})
    for (size_t i = 0; i < h.size(); i += 2) raw += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  EXPECT_EQ(multipart_etag({a, b}), md5_hex(raw) + "-2");
  EXPECT_EQ(multipart_etag({a}).substr(33), "1");
}

TEST_F(MultipartTest, CompleteAssemblesPartsInOrderWithMetadataFromCreate) {
  UploadRecord u = start("big/object");
  std::string p1(kMinPartSize, 'x'), p2 = "tail bytes";
  p1[0] = '1';
  PartRecord r2 = uploads_->put_part(u, 2, p2, 110);  // parts may arrive in any order
  PartRecord r1 = uploads_->put_part(u, 1, "to be replaced", 105);
  r1 = uploads_->put_part(u, 1, p1, 111);
  EXPECT_EQ(r1.etag, md5_hex(p1));
  EXPECT_EQ(file_count(), 2u);  // the replaced part's file is gone
  ObjectRecord o = uploads_->complete(u, {{1, r1.quoted_etag()}, {2, r2.etag}}, 120);
  EXPECT_EQ(o.size, p1.size() + p2.size());
  EXPECT_EQ(o.etag, multipart_etag({md5_hex(p1), md5_hex(p2)}));
  EXPECT_EQ(o.content_type, "text/plain");
  ASSERT_EQ(o.metadata.size(), 1u);
  EXPECT_EQ(o.metadata[0].second, "blue");
  auto stored = objects_->head("bucket", "big/object");
  ASSERT_TRUE(stored);
  EXPECT_EQ(objects_->read(*stored, 0, stored->size), p1 + p2);
  EXPECT_EQ(file_count(), 1u);  // parts removed, only the object's file
  EXPECT_FALSE(uploads_->find("bucket", "big/object", u.upload_id));
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, r1.etag}}, 130); }), "NoSuchUpload");
  EXPECT_EQ(error_code([&] { uploads_->put_part(u, 3, "x", 130); }), "NoSuchUpload");
  EXPECT_EQ(file_count(), 1u);
}

TEST_F(MultipartTest, CompletionRules) {
  UploadRecord u = start("k");
  PartRecord small = uploads_->put_part(u, 1, "small", 101);
  PartRecord last = uploads_->put_part(u, 2, "last", 102);
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {}, 110); }), "MalformedXML");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{2, last.etag}, {1, small.etag}}, 110); }), "InvalidPartOrder");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, small.etag}, {1, small.etag}}, 110); }), "InvalidPartOrder");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, small.etag}, {3, last.etag}}, 110); }), "InvalidPart");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, last.etag}}, 110); }), "InvalidPart");  // wrong ETag
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, small.etag}, {2, last.etag}}, 110); }), "EntityTooSmall");
  // A single small part is fine (it is the last), and a subset of the parts may be completed.
  ObjectRecord o = uploads_->complete(u, {{2, "\"" + last.etag + "\""}}, 110);
  EXPECT_EQ(o.size, 4u);
  EXPECT_EQ(o.etag, multipart_etag({last.etag}));
  EXPECT_EQ(file_count(), 1u);  // part 1, not completed, was dropped with the upload
}

TEST_F(MultipartTest, CopyPartTakesARangeOfAnObject) {
  ObjectRecord src = objects_->put("bucket", "src", "0123456789", ObjectRecord{}, 50);
  UploadRecord u = start("dst");
  PartRecord p = uploads_->copy_part(u, 1, src, 2, 5, 60);
  EXPECT_EQ(p.size, 5u);
  EXPECT_EQ(p.etag, md5_hex("23456"));
  ObjectRecord o = uploads_->complete(u, {{1, p.etag}}, 70);
  EXPECT_EQ(objects_->read(o, 0, o.size), "23456");
  // A source deleted after it was looked up is NoSuchKey, not an internal error.
  UploadRecord v = start("dst2");
  ASSERT_TRUE(objects_->remove("bucket", "src"));
  EXPECT_EQ(error_code([&] { uploads_->copy_part(v, 1, src, 0, 3, 80); }), "NoSuchKey");
  EXPECT_EQ(error_code([&] { objects_->copy("bucket", "again", src, ObjectRecord{}, 80); }), "NoSuchKey");
  EXPECT_EQ(file_count(), 1u);  // only dst's object file; no temp files left behind
}

TEST_F(MultipartTest, AbortAndBucketDeletionCleanUp) {
  UploadRecord u = start("a");
  uploads_->put_part(u, 1, "one", 101);
  uploads_->put_part(u, 2, "two", 102);
  EXPECT_EQ(file_count(), 2u);
  EXPECT_TRUE(uploads_->abort("bucket", "a", u.upload_id));
  EXPECT_FALSE(uploads_->abort("bucket", "a", u.upload_id));
  EXPECT_FALSE(uploads_->abort("bucket", "other-key", u.upload_id));
  EXPECT_EQ(file_count(), 0u);
  EXPECT_TRUE(uploads_->list_uploads("bucket", {}).entries.empty());

  UploadRecord v = start("b");
  uploads_->put_part(v, 1, "one", 101);
  EXPECT_TRUE(objects_->bucket_empty("bucket"));  // uploads are not objects
  EXPECT_TRUE(objects_->delete_bucket_if_empty("bucket"));
  EXPECT_EQ(file_count(), 0u);
  objects_->create_bucket(BucketRecord{"bucket", "111111111111", "us-east-1", 2});
  EXPECT_TRUE(uploads_->list_uploads("bucket", {}).entries.empty());
  EXPECT_FALSE(uploads_->find("bucket", "b", v.upload_id));
  EXPECT_TRUE(uploads_->list_parts(v, 0, 1000).parts.empty());
}

TEST_F(MultipartTest, ListUploadsInKeyThenInitiationOrderWithMarkers) {
  UploadRecord a2 = start("a", 200), a1 = start("a", 100), b = start("b", 50), dir1 = start("dir/x", 10), dir2 = start("dir/y", 11);
  auto keys = [](const UploadListResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.entries) out.push_back(e.is_prefix ? "P:" + e.prefix : e.upload.key + "@" + std::to_string(int(e.upload.initiated)));
    return out;
  };
  UploadListQuery q;
  EXPECT_EQ(keys(uploads_->list_uploads("bucket", q)), (std::vector<std::string>{"a@100", "a@200", "b@50", "dir/x@10", "dir/y@11"}));
  q.max_uploads = 1;
  UploadListResult page = uploads_->list_uploads("bucket", q);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_key_marker, "a");
  EXPECT_EQ(page.next_upload_id_marker, a1.upload_id);
  q.max_uploads = 2;
  q.key_marker = page.next_key_marker;
  q.upload_id_marker = page.next_upload_id_marker;
  EXPECT_EQ(keys(uploads_->list_uploads("bucket", q)), (std::vector<std::string>{"a@200", "b@50"}));
  q.upload_id_marker.clear();  // key-marker alone: keys after it
  EXPECT_EQ(keys(uploads_->list_uploads("bucket", q)), (std::vector<std::string>{"b@50", "dir/x@10"}));
  UploadListQuery d;
  d.delimiter = "/";
  EXPECT_EQ(keys(uploads_->list_uploads("bucket", d)), (std::vector<std::string>{"a@100", "a@200", "b@50", "P:dir/"}));
  d.prefix = "dir/";
  EXPECT_EQ(keys(uploads_->list_uploads("bucket", d)), (std::vector<std::string>{"dir/x@10", "dir/y@11"}));
  (void)a2, (void)b, (void)dir1, (void)dir2;
}

TEST_F(MultipartTest, PartsAreListedInOrderAndSurviveReopen) {
  UploadRecord u = start("k");
  for (int n : {3, 1, 10000, 2}) uploads_->put_part(u, n, "part " + std::to_string(n), 100 + n);
  open();
  auto found = uploads_->find("bucket", "k", u.upload_id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->meta.content_type, "text/plain");
  PartListResult all = uploads_->list_parts(*found, 0, 1000);
  ASSERT_EQ(all.parts.size(), 4u);
  EXPECT_EQ(all.parts[0].number, 1);
  EXPECT_EQ(all.parts[3].number, 10000);
  EXPECT_EQ(all.parts[2].etag, md5_hex("part 3"));
  PartListResult page = uploads_->list_parts(*found, 1, 2);
  ASSERT_EQ(page.parts.size(), 2u);
  EXPECT_EQ(page.parts[0].number, 2);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_marker, 3);
  page = uploads_->list_parts(*found, 3, 2);
  ASSERT_EQ(page.parts.size(), 1u);
  EXPECT_FALSE(page.truncated);
  EXPECT_TRUE(uploads_->list_parts(*found, 10000, 5).parts.empty());
}

}  // namespace
}  // namespace vigil::s3
