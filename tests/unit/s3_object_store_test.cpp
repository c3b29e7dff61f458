// The S3 model without HTTP: names, ranges, preconditions, durable put/remove, listing, and
// aws-chunked decoding with chunk signatures, and the bucket policy decision for S3 requests.
#include "services/s3/object_store.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "services/s3/aws_chunked.h"
#include "services/s3/bucket_policy.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::s3 {
namespace {

TEST(S3BucketName, Rules) {
  for (const char* ok : {"abc", "my-bucket", "my.bucket.name", "a1b2c3"}) EXPECT_TRUE(valid_bucket_name(ok)) << ok;
  EXPECT_TRUE(valid_bucket_name(std::string(63, 'a')));
  for (const char* bad : {"ab", "ABC", "a..b", "-abc", "abc-", "a_b", "192.168.1.1", "xn--abc", "abc-s3alias", "a.-b", "sthree-x"})
    EXPECT_FALSE(valid_bucket_name(bad)) << bad;
  EXPECT_FALSE(valid_bucket_name(std::string(64, 'a')));
}

TEST(S3Range, Forms) {
  bool unsat = false;
  auto r = parse_range("bytes=2-5", 10, unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 2u);
  EXPECT_EQ(r->last, 5u);
  r = parse_range("bytes=7-", 10, unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 9u);
  r = parse_range("bytes=-3", 10, unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 7u);
  r = parse_range("bytes=5-100", 10, unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 9u);
  EXPECT_FALSE(parse_range("bytes=10-12", 10, unsat));
  EXPECT_TRUE(unsat);
  EXPECT_FALSE(parse_range("bytes=5-2", 10, unsat));  // malformed: whole object
  EXPECT_FALSE(unsat);
  EXPECT_FALSE(parse_range("bytes=0-1,3-4", 10, unsat));
  EXPECT_FALSE(parse_range("items=0-1", 10, unsat));
}

TEST(S3Conditions, Rfc7232Order) {
  ObjectRecord o;
  o.etag = "abc";
  o.last_modified = 1000.5;
  Conditions c;
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Proceed);
  c.if_match = "\"abc\"";
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Proceed);
  c.if_match = "\"nope\"";
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Failed);
  c = {};
  c.if_none_match = "\"x\", \"abc\"";
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::NotModified);
  c = {};
  c.if_modified_since = 1000;  // same second: not modified
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::NotModified);
  c.if_modified_since = 999;
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Proceed);
  c = {};
  c.if_unmodified_since = 999;
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Failed);
  c.if_match = "*";  // If-Match wins over If-Unmodified-Since
  EXPECT_EQ(evaluate_conditions(c, o), Precondition::Proceed);
}

TEST(S3Md5, Hex) { EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e"); }

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-s3");
    open();
  }
  void TearDown() override {
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    objects_.reset();
    store_.reset();
    store_ = store::Store::open(dir_ + "/db");
    objects_ = std::make_unique<ObjectStore>(*store_, dir_ + "/s3");
  }
  std::vector<std::string> names(const ListResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.entries) out.push_back(e.name());
    return out;
  }
  size_t file_count() {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_ + "/s3"))
      n += e.is_regular_file() && e.path().filename() != ObjectStore::kMasterKeyFile;  // object and part files only
    return n;
  }
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectStore> objects_;
};

TEST_F(ObjectStoreTest, BucketsAreOwned) {
  objects_->create_bucket({"b1", "111", "us-east-1", 1});
  objects_->create_bucket({"b2", "222", "eu-west-1", 2});
  objects_->create_bucket({"b3", "111", "us-east-1", 3});
  auto mine = objects_->buckets_of("111");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].name, "b1");
  EXPECT_EQ(mine[1].name, "b3");
  EXPECT_EQ(objects_->bucket("b2")->region, "eu-west-1");
  EXPECT_TRUE(objects_->bucket_empty("b1"));
  EXPECT_EQ(objects_->create_bucket({"b2", "111", "us-east-1", 4})->owner_account, "222");  // taken
  objects_->put("b3", "k", "v", {}, 1);
  EXPECT_FALSE(objects_->delete_bucket_if_empty("b3"));
  EXPECT_TRUE(objects_->delete_bucket_if_empty("b1"));
  EXPECT_FALSE(objects_->bucket("b1"));
  EXPECT_THROW(objects_->put("b1", "k", "v", {}, 1), AwsError);  // deleted bucket
  EXPECT_EQ(file_count(), 1u);
}

TEST_F(ObjectStoreTest, PutReadOverwriteRemoveSurviveReopen) {
  objects_->create_bucket({"b", "111", "us-east-1", 1});
  ObjectRecord meta;
  meta.content_type = "text/plain";
  meta.metadata = {{"k", "v"}};
  auto stored = objects_->put("b", "dir/key", "hello world", meta, 1234.5);
  EXPECT_EQ(stored.etag, md5_hex("hello world"));
  EXPECT_FALSE(objects_->bucket_empty("b"));
  objects_->put("b", "dir/key", "second", meta, 1235);
  EXPECT_EQ(file_count(), 1u);  // the replaced bytes are gone
  open();
  auto o = objects_->head("b", "dir/key");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->size, 6u);
  EXPECT_EQ(o->content_type, "text/plain");
  EXPECT_EQ(o->metadata.at(0).second, "v");
  EXPECT_EQ(objects_->read(*o, 0, 6), "second");
  EXPECT_EQ(objects_->read(*o, 2, 3), "con");
  EXPECT_TRUE(objects_->remove("b", "dir/key"));
  EXPECT_FALSE(objects_->remove("b", "dir/key"));
  EXPECT_EQ(file_count(), 0u);
  EXPECT_TRUE(objects_->bucket_empty("b"));
}

// GetObject streams from a descriptor opened before it answers: the bytes stay those of the
// record it read, whatever happens to the key while they are sent.
TEST_F(ObjectStoreTest, OpenKeepsTheBytesOfTheRecordItRead) {
  objects_->create_bucket({"b", "111", "us-east-1", 1});
  auto first = objects_->put("b", "k", "first bytes", {}, 1);
  std::optional<int> fd = objects_->open(first);
  ASSERT_TRUE(fd);
  objects_->put("b", "k", "second", {}, 2);  // replaces (and unlinks) the first file
  EXPECT_FALSE(objects_->open(first));       // a stale record: the caller looks the key up again
  EXPECT_TRUE(objects_->remove("b", "k"));
  EXPECT_EQ(file_count(), 0u);
  char buffer[32] = {};
  ASSERT_EQ(::pread(*fd, buffer, sizeof buffer, 6), 5);
  objects_->data_key(first.sse)->apply(6, buffer, 5);  // the file is ciphertext (CTR at offset 6)
  EXPECT_EQ(std::string(buffer, 5), "bytes");
  ::close(*fd);
}

TEST_F(ObjectStoreTest, ListingIsScopedToItsBucket) {
  objects_->create_bucket({"b", "111", "us-east-1", 1});
  objects_->create_bucket({"b2", "111", "us-east-1", 1});
  for (const char* k : {"a", "logs/1", "logs/2", "logs/x/3", "z"}) objects_->put("b", k, k, {}, 1);
  objects_->put("b2", "a", "other", {}, 1);
  ListQuery q;
  EXPECT_EQ(names(objects_->list("b", q)), (std::vector<std::string>{"a", "logs/1", "logs/2", "logs/x/3", "z"}));
  q.delimiter = "/";
  EXPECT_EQ(names(objects_->list("b", q)), (std::vector<std::string>{"a", "logs/", "z"}));
  q.prefix = "logs/";
  EXPECT_EQ(names(objects_->list("b", q)), (std::vector<std::string>{"logs/1", "logs/2", "logs/x/"}));
  q = {};
  q.max_keys = 2;
  auto page = objects_->list("b", q);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(names(page), (std::vector<std::string>{"a", "logs/1"}));
  q.after = "logs/1";
  q.max_keys = 1000;
  EXPECT_EQ(names(objects_->list("b", q)), (std::vector<std::string>{"logs/2", "logs/x/3", "z"}));
  q = {};
  q.delimiter = "/";
  q.after = "logs/";  // a common prefix already returned is not returned again
  EXPECT_EQ(names(objects_->list("b", q)), (std::vector<std::string>{"z"}));
}

TEST(S3AwsChunked, VerifiesEveryChunk) {
  std::string key(32, 'k');
  std::string date = "20260101T000000Z", scope = "20260101/us-east-1/s3/aws4_request", seed(64, 'a');
  std::vector<std::string> chunks = {std::string(100, 'x'), "tail", ""};
  std::string body, prev = seed;
  std::vector<std::string> sigs;
  for (const auto& c : chunks) {
    std::string sig = auth::chunk_signature(key, date, scope, prev, c);
    sigs.push_back(sig);
    prev = sig;
  }
  auto build = [&](const std::vector<std::string>& s) {
    std::string out;
    for (size_t i = 0; i < chunks.size(); ++i) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%zx", chunks[i].size());
      out += std::string(hex) + ";chunk-signature=" + s[i] + "\r\n" + chunks[i] + "\r\n";
    }
    return out;
  };
  ChunkSigner signer{key, date, scope, seed};
  EXPECT_EQ(decode_aws_chunked(build(sigs), signer), std::string(100, 'x') + "tail");
  auto bad = sigs;
  bad[1] = std::string(64, '0');
  try {
    decode_aws_chunked(build(bad), signer);
    FAIL() << "accepted a wrong chunk signature";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "SignatureDoesNotMatch");
    EXPECT_EQ(e.http_status(), 403);
  }
  EXPECT_THROW(decode_aws_chunked("5\r\nab", std::nullopt), AwsError);
  // Unsigned trailer form: no signatures, trailers after the last chunk.
  EXPECT_EQ(decode_aws_chunked("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", std::nullopt), "abc");
}

// A signed aws-chunked body as the SDKs frame it, for the streaming decoder's tests.
struct SignedBody {
  std::string key = std::string(32, 'k'), date = "20260101T000000Z", scope = "20260101/us-east-1/s3/aws4_request", seed = std::string(64, 'a');
  std::string body, payload;
  ChunkSigner signer() const { return ChunkSigner{key, date, scope, seed}; }
  // corrupt: the index of the chunk (the final empty one is chunks.size()) whose signature is wrong.
  SignedBody(const std::vector<std::string>& chunks, const std::string& trailer, int corrupt = -1) {
    std::string prev = seed;
    std::vector<std::string> all = chunks;
    all.push_back("");
    for (size_t i = 0; i < all.size(); ++i) {
      std::string sig = auth::chunk_signature(key, date, scope, prev, all[i]);
      prev = sig;
      if (static_cast<int>(i) == corrupt) sig = std::string(64, '0');
      char hex[32];
      std::snprintf(hex, sizeof hex, "%zx", all[i].size());
      body += std::string(hex) + ";chunk-signature=" + sig + "\r\n" + all[i];
      if (!all[i].empty()) body += "\r\n";
      payload += all[i];
    }
    body += trailer;
  }
};

std::string decode_in_pieces(std::string_view body, const std::optional<ChunkSigner>& signer, const std::vector<size_t>& cuts) {
  AwsChunkedDecoder decoder(signer);
  std::string out;
  size_t pos = 0;
  for (size_t cut : cuts) {
    decoder.feed(body.substr(pos, cut - pos), [&](std::string_view d) { out.append(d); });
    pos = cut;
  }
  decoder.feed(body.substr(pos), [&](std::string_view d) { out.append(d); });
  decoder.finish();
  EXPECT_EQ(decoder.payload_size(), out.size());
  return out;
}

TEST(S3AwsChunkedStreaming, SplitAtEveryBoundary) {
  // Chunks of several sizes (one spans a typical read block when fed whole), a trailer.
  SignedBody b({std::string(8192, 'x'), "tail", std::string(300, 'y')}, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
  for (size_t cut = 0; cut <= b.body.size(); ++cut) {
    ASSERT_EQ(decode_in_pieces(b.body, b.signer(), {cut}), b.payload) << "split at " << cut;
  }
  // Two cuts: every boundary pair around the second chunk's header and data.
  size_t second = b.body.find("\r\n4;") + 2;
  for (size_t i = second - 3; i < second + 90; ++i)
    for (size_t j = i; j < second + 100; ++j) ASSERT_EQ(decode_in_pieces(b.body, b.signer(), {i, j}), b.payload) << i << "," << j;
  // One byte at a time.
  std::vector<size_t> every;
  for (size_t i = 1; i < b.body.size(); ++i) every.push_back(i);
  EXPECT_EQ(decode_in_pieces(b.body, b.signer(), every), b.payload);
  // Unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER): the same framing without signatures.
  std::string unsigned_body = "2000\r\n" + std::string(8192, 'x') + "\r\n4\r\ntail\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
  for (size_t cut = 0; cut <= unsigned_body.size(); ++cut)
    ASSERT_EQ(decode_in_pieces(unsigned_body, std::nullopt, {cut}), std::string(8192, 'x') + "tail") << cut;
}

TEST(S3AwsChunkedStreaming, BadSignatureAndTruncation) {
  std::vector<std::string> chunks = {std::string(1000, 'x'), "tail"};
  for (int corrupt = 0; corrupt <= 2; ++corrupt) {  // 2: the final, empty chunk
    SignedBody b(chunks, "", corrupt);
    for (size_t cut : {size_t{0}, size_t{1}, b.body.size() / 2, b.body.size() - 1}) {
      try {
        decode_in_pieces(b.body, b.signer(), {cut});
        FAIL() << "accepted a wrong signature of chunk " << corrupt;
      } catch (const AwsError& e) {
        EXPECT_EQ(e.code(), "SignatureDoesNotMatch");
        EXPECT_EQ(e.http_status(), 403);
      }
    }
  }
  // Another seed (the request's signature) breaks the chain from the first chunk on.
  SignedBody good(chunks, "");
  ChunkSigner other = good.signer();
  std::string other_seed(64, 'b');
  other.seed_signature = other_seed;
  EXPECT_THROW(decode_aws_chunked(good.body, other), AwsError);
  // A body cut anywhere before its final chunk header is complete is IncompleteBody.
  const size_t final_header_end = good.body.rfind("\r\n") + 2;
  for (size_t len = 0; len < final_header_end; ++len) {
    AwsChunkedDecoder decoder(good.signer());
    std::string out;
    try {
      decoder.feed(std::string_view(good.body).substr(0, len), [&](std::string_view d) { out.append(d); });
      decoder.finish();
      FAIL() << "accepted a body cut at " << len;
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code(), "IncompleteBody") << len;
    }
  }
  // Malformed framing: bad hex, missing CRLF after data, an endless header line.
  for (std::string bad : {std::string("zz\r\nab\r\n0\r\n"), std::string("2\r\nabXX0\r\n"), std::string(5000, '1')})
    EXPECT_THROW(decode_aws_chunked(bad, std::nullopt), AwsError) << bad.substr(0, 20);
  EXPECT_THROW(decode_aws_chunked("3\r\nabc\r\n", std::nullopt), AwsError);  // no final chunk
}

TEST_F(ObjectStoreTest, AdoptedFileIsRenamedIntoPlace) {
  objects_->create_bucket({"b", "111", "us-east-1", 1});
  const std::string content = "spooled body bytes";
  for (bool md5_known : {true, false}) {
    std::string path = objects_->spool_dir() + "/x.body";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    std::string md5;
    if (md5_known) {
      for (size_t i = 0; i < 32; i += 2) md5.push_back(static_cast<char>(std::stoi(md5_hex(content).substr(i, 2), nullptr, 16)));
    }
    DurableFile file = objects_->adopt_file(fd, path, content.size(), md5);
    EXPECT_EQ(file.md5_hex(), md5_hex(content));
    ObjectRecord stored = objects_->put_file("b", "k", file, ObjectRecord{}, 2);
    EXPECT_EQ(stored.etag, md5_hex(content));
    EXPECT_EQ(stored.size, content.size());
    EXPECT_FALSE(std::filesystem::exists(path));  // moved, not copied
    EXPECT_EQ(objects_->read(*objects_->head("b", "k"), 0, content.size()), content);
  }
  // Dropped without a commit (a bad digest): the spooled file is removed.
  std::string path = objects_->spool_dir() + "/y.body";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  { DurableFile file = objects_->adopt_file(fd, path, 0, ""); }
  EXPECT_FALSE(std::filesystem::exists(path));
  // A reopened store empties the spool directory (bodies of requests a crash interrupted).
  { std::FILE* f = std::fopen((objects_->spool_dir() + "/stale.body").c_str(), "w"); ASSERT_NE(f, nullptr); std::fclose(f); }
  open();
  EXPECT_TRUE(std::filesystem::is_empty(objects_->spool_dir()));
  EXPECT_EQ(objects_->read(*objects_->head("b", "k"), 0, content.size()), content);
}

}  // namespace
}  // namespace vigil::s3

namespace vigil::s3 {
namespace {

iam::Request caller(const std::string& account, const std::string& action, const std::string& resource, const std::string& user = "root") {
  iam::Request r;
  r.account = account;
  r.principal_arn = user == "root" ? "arn:aws:iam::" + account + ":root" : "arn:aws:iam::" + account + ":user/" + user;
  r.action = action;
  r.resource = resource;
  return r;
}

TEST_F(ObjectStoreTest, BucketPolicyDecidesS3Requests) {
  objects_->create_bucket(BucketRecord{"b", "111111111111", "us-east-1", 1});
  BucketRecord b = *objects_->bucket("b");
  auto allowed = [&](const iam::Request& r, bool root = true) { return s3_request_allowed(*objects_, b, r, root); };
  // No policy: the owner's account only.
  EXPECT_TRUE(allowed(caller("111111111111", "s3:GetObject", "arn:aws:s3:::b/k")));
  EXPECT_FALSE(allowed(caller("222222222222", "s3:GetObject", "arn:aws:s3:::b/k")));

  objects_->put_bucket_policy("b", R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
    {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]})");
  EXPECT_TRUE(allowed(caller("222222222222", "s3:GetObject", "arn:aws:s3:::b/k")));
  EXPECT_FALSE(allowed(caller("222222222222", "s3:PutObject", "arn:aws:s3:::b/k")));
  EXPECT_FALSE(allowed(caller("222222222222", "s3:GetObject", "arn:aws:s3:::b/secret/x")));
  EXPECT_FALSE(allowed(caller("111111111111", "s3:GetObject", "arn:aws:s3:::b/secret/x")));  // the owner too
  EXPECT_TRUE(allowed(caller("111111111111", "s3:PutObject", "arn:aws:s3:::b/secret/x")));
  EXPECT_FALSE(allowed(caller("333333333333", "s3:GetObject", "arn:aws:s3:::b/k")));

  // Deny everything: the owner's root user keeps the policy operations, nobody else does.
  objects_->put_bucket_policy("b", R"({"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}})");
  for (const char* action : {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}) {
    EXPECT_TRUE(allowed(caller("111111111111", action, "arn:aws:s3:::b"))) << action;
    EXPECT_FALSE(allowed(caller("111111111111", action, "arn:aws:s3:::b", "alice"), false)) << action;
    EXPECT_FALSE(allowed(caller("222222222222", action, "arn:aws:s3:::b"))) << action;
  }
  EXPECT_FALSE(allowed(caller("111111111111", "s3:ListBucket", "arn:aws:s3:::b")));

  // A damaged stored document grants nothing and denies nothing.
  objects_->put_bucket_policy("b", "not json");
  EXPECT_TRUE(allowed(caller("111111111111", "s3:GetObject", "arn:aws:s3:::b/k")));
  EXPECT_FALSE(allowed(caller("222222222222", "s3:GetObject", "arn:aws:s3:::b/k")));
}

}  // namespace
}  // namespace vigil::s3
