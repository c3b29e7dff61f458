// Digest files of trails with log file validation, driven by a ManualClock and
// Scheduler::run_due(): the chain, log file hashes, signatures verifiable with the listed public
// key, key rotation and ListPublicKeys ranges (../shared/specs/cloudtrail-integrity.md).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <cmath>
#include <regex>
#include <set>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/scheduler.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/signing_keys.h"
#include "services/cloudtrail/trails.h"
#include "services/s3/object_store.h"
#include "store/store.h"
#include "http/gzip_body.h"
#include "temp_dir.h"

namespace vigil::cloudtrail {
namespace {

std::string gunzip(const std::string& in) {
  auto out = http::gunzip(in, 64 << 20);  // the server's own inflater
  EXPECT_TRUE(out.has_value());
  return out.value_or("");
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

constexpr const char* kAccount = "000000000000";
constexpr const char* kRegion = "us-east-1";
constexpr const char* kBucket = "digests";

class DigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-dg");
    store_ = store::Store::open(dir_ + "/db");
    objects_ = std::make_unique<s3::ObjectStore>(*store_, dir_ + "/s3");
    trails_ = std::make_unique<TrailStore>(*store_, clock_, *objects_);
    trails_->load();
    scheduler_ = std::make_unique<Scheduler>(clock_);
    scheduler_->every("trail-delivery", std::chrono::seconds(300), [this] { trails_->deliver(); });
    scheduler_->every("trail-digest", std::chrono::seconds(3600), [this] { trails_->digest(); });
    objects_->create_bucket({kBucket, kAccount, kRegion, clock_.now_seconds()});
  }
  void TearDown() override {
    scheduler_.reset();
    trails_.reset();
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Value create(bool validation) {
    Value in = Value::map();
    in.set("Name", "audit");
    in.set("S3BucketName", kBucket);
    if (validation) in.set("EnableLogFileValidation", true);
    Value out = trails_->create(kAccount, kRegion, in);
    trails_->set_logging(kAccount, kRegion, "audit", true);
    return out;
  }
  void event(const std::string& name) {
    BusEvent e;
    e.source = "aws.logs";
    e.detail_type = "AWS API Call via CloudTrail";
    e.account = kAccount;
    e.region = kRegion;
    e.time = clock_.now_seconds();
    e.detail = Value::map();
    e.detail.set("eventName", name);
    e.detail.set("eventSource", "logs.amazonaws.com");
    e.detail.set("eventTime", format_iso8601(std::floor(e.time)));
    e.detail.set("awsRegion", kRegion);
    trails_->on_event(e);
  }
  void advance(int seconds) {
    for (int i = 0; i < seconds / 60; ++i) {
      clock_.advance(std::chrono::seconds(60));
      scheduler_->run_due();
    }
  }
  std::vector<std::pair<s3::ObjectRecord, Value>> digests() {
    s3::ListQuery q;
    q.prefix = std::string("AWSLogs/") + kAccount + "/CloudTrail-Digest/";
    std::vector<std::pair<s3::ObjectRecord, Value>> out;
    for (auto& e : objects_->list(kBucket, q).entries)
      out.emplace_back(e.object, protocol::json_to_value(gunzip(objects_->read(e.object, 0, e.object.size)), nullptr));
    return out;
  }
  std::string meta(const s3::ObjectRecord& o, const std::string& name) {
    for (auto& [k, v] : o.metadata)
      if (k == name) return v;
    return {};
  }
  std::string public_der(const std::string& fingerprint) {
    Value in = Value::map();
    in.set("StartTime", Timestamp{0});
    in.set("EndTime", Timestamp{clock_.now_seconds() + 7200});
    Value keys = trails_->list_public_keys(kAccount, kRegion, in);
    for (const Value& k : keys.get("PublicKeyList")->as_list())
      if (k.str("Fingerprint") == fingerprint) return k.get("Value")->as_blob().bytes;
    return {};
  }

  std::string dir_;
  ManualClock clock_{1'800'000'000'000};  // 2027-01-15T08:00:00Z
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<s3::ObjectStore> objects_;
  std::unique_ptr<TrailStore> trails_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(DigestTest, ValidationFlagShowsInTrail) {
  Value out = create(true);
  EXPECT_TRUE(out.flag("LogFileValidationEnabled", false));
  EXPECT_TRUE(trails_->get(kAccount, kRegion, "audit").get("Trail")->flag("LogFileValidationEnabled", false));
  Value up = Value::map();
  up.set("Name", "audit");
  up.set("EnableLogFileValidation", false);
  EXPECT_FALSE(trails_->update(kAccount, kRegion, up).flag("LogFileValidationEnabled", true));
}

TEST_F(DigestTest, NoDigestsWithoutValidation) {
  create(false);
  event("CreateLogGroup");
  advance(7200);
  EXPECT_TRUE(digests().empty());
}

TEST_F(DigestTest, ChainedSignedDigestsWithLogHashes) {
  create(true);
  event("CreateLogGroup");
  advance(3600);  // deliveries every 5 min, then the first digest
  event("DeleteLogGroup");
  advance(3600);
  advance(3600);  // an hour without logs still gets a digest
  auto ds = digests();
  ASSERT_EQ(ds.size(), 3u);
  static const std::regex kKey(R"(AWSLogs/000000000000/CloudTrail-Digest/us-east-1/\d{4}/\d{2}/\d{2}/000000000000_CloudTrail-Digest_us-east-1_audit_us-east-1_\d{8}T\d{6}Z\.json\.gz)");
  std::string previous_signature;
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto& [object, d] = ds[i];
    EXPECT_TRUE(std::regex_match(object.key, kKey)) << object.key;
    EXPECT_EQ(d.str("digestS3Object"), object.key);
    EXPECT_EQ(d.str("digestS3Bucket"), kBucket);
    EXPECT_EQ(d.str("digestSignatureAlgorithm"), "SHA256withRSA");
    EXPECT_EQ(d.str("awsAccountId"), kAccount);
    // The file name carries digestEndTime.
    std::string end(d.str("digestEndTime"));
    std::string stamp = end.substr(0, 4) + end.substr(5, 2) + end.substr(8, 2) + "T" + end.substr(11, 2) + end.substr(14, 2) + end.substr(17, 2) + "Z";
    EXPECT_NE(object.key.find(stamp + ".json.gz"), std::string::npos);
    std::string json = gunzip(objects_->read(object, 0, object.size));
    std::string sig_hex = meta(object, "signature");
    EXPECT_EQ(meta(object, "signature-algorithm"), "SHA256withRSA");
    std::string to_sign = end + "\n" + kBucket + "/" + object.key + "\n" + sha256_hex(json) + "\n" + (i == 0 ? "null" : previous_signature);
    std::string der = public_der(std::string(d.str("digestPublicKeyFingerprint")));
    ASSERT_FALSE(der.empty());
    EXPECT_TRUE(SigningKeys::verify(der, to_sign, unhex(sig_hex)));
    EXPECT_FALSE(SigningKeys::verify(der, to_sign + "x", unhex(sig_hex)));
    if (i == 0) {
      EXPECT_TRUE(d.get("previousDigestSignature")->is_null());
      EXPECT_TRUE(d.get("previousDigestS3Object")->is_null());
    } else {
      EXPECT_EQ(d.str("previousDigestS3Object"), ds[i - 1].first.key);
      EXPECT_EQ(d.str("previousDigestSignature"), previous_signature);
      EXPECT_EQ(d.str("previousDigestHashValue"), sha256_hex(gunzip(objects_->read(ds[i - 1].first, 0, ds[i - 1].first.size))));
      EXPECT_EQ(d.str("digestStartTime"), ds[i - 1].second.str("digestEndTime"));
    }
    previous_signature = sig_hex;
    for (const Value& f : d.get("logFiles")->as_list()) {
      auto log = objects_->head(f.str("s3Bucket"), f.str("s3Object"));
      ASSERT_TRUE(log);
      EXPECT_EQ(f.str("hashValue"), sha256_hex(gunzip(objects_->read(*log, 0, log->size))));
      EXPECT_EQ(f.str("hashAlgorithm"), "SHA-256");
    }
  }
  EXPECT_EQ(ds[0].second.get("logFiles")->size(), 1u);
  EXPECT_EQ(ds[1].second.get("logFiles")->size(), 1u);
  EXPECT_EQ(ds[2].second.get("logFiles")->size(), 0u);
  EXPECT_TRUE(ds[2].second.get("newestEventTime")->is_null());
}

TEST_F(DigestTest, StopLoggingBreaksTheChain) {
  create(true);
  advance(3600);
  trails_->set_logging(kAccount, kRegion, "audit", false);
  advance(3600);
  trails_->set_logging(kAccount, kRegion, "audit", true);
  advance(3600);
  auto ds = digests();
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_TRUE(ds[1].second.get("previousDigestS3Object")->is_null());
}

TEST_F(DigestTest, KeysRotateAndStayListable) {
  create(true);
  for (int i = 0; i < 50; ++i) advance(3600);  // a bit over two days
  auto ds = digests();
  ASSERT_EQ(ds.size(), 50u);
  std::set<std::string> fingerprints;
  for (auto& [o, d] : ds) fingerprints.insert(std::string(d.str("digestPublicKeyFingerprint")));
  EXPECT_GE(fingerprints.size(), 3u);
  for (const auto& fp : fingerprints) EXPECT_FALSE(public_der(fp).empty()) << fp;
  // Ranges: only the overlapping keys.
  double t0 = 1'800'000'000;
  Value in = Value::map();
  in.set("StartTime", Timestamp{t0 + 60});
  in.set("EndTime", Timestamp{t0 + 120});
  Value first = trails_->list_public_keys(kAccount, kRegion, in);
  ASSERT_EQ(first.get("PublicKeyList")->size(), 1u);
  const Value& k = first.get("PublicKeyList")->as_list()[0];
  EXPECT_EQ(k.get("ValidityStartTime")->as_double(), t0);
  EXPECT_EQ(k.get("ValidityEndTime")->as_double(), t0 + 86400);
  EXPECT_EQ(k.str("Fingerprint"), s3::md5_hex(k.get("Value")->as_blob().bytes));
  EXPECT_EQ(base64_encode(k.get("Value")->as_blob().bytes).substr(0, 12), "MIIBCgKCAQEA");
  in.set("EndTime", Timestamp{t0 + 86400 * 2 + 10});
  EXPECT_EQ(trails_->list_public_keys(kAccount, kRegion, in).get("PublicKeyList")->size(), 3u);
}

}  // namespace
}  // namespace vigil::cloudtrail
