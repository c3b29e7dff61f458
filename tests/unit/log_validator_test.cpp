// The offline validator (`vigil trail validate`) against an in-memory source: the AWS CLI's
// validate-logs cases of ../shared/specs/cloudtrail-integrity.md §8 and §10.
#include "services/cloudtrail/log_validator.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <ctime>
#include <map>
#include <sstream>

#include "core/encoding.h"
#include "core/value.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/signing_keys.h"

namespace vigil::cloudtrail {
namespace {

constexpr double kT0 = 1710028800;  // 2024-03-10T00:00:00Z
const std::string kAccount = "000000000000";
const std::string kArn = "arn:aws:cloudtrail:us-east-1:000000000000:trail/audit";

std::string gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string utc(double t, const char* format) {
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

class FakeSource : public ValidationSource {
 public:
  std::optional<TrailLocation> trail = TrailLocation{"bucket", "", false};
  std::map<std::string, std::map<std::string, FetchedObject>> buckets;
  std::vector<PublicKeyEntry> keys;
  int list_calls = 0;

  std::optional<TrailLocation> describe_trail(const std::string& arn) override { return arn == kArn ? trail : std::nullopt; }
  void list_keys(const std::string& bucket, const std::string& prefix, const std::string& marker,
                 const std::function<bool(const std::string&)>& visit) override {
    ++list_calls;
    auto b = buckets.find(bucket);
    if (b == buckets.end()) throw ValidationAbort("An error occurred (NoSuchBucket) when calling the ListObjects operation");
    for (auto it = b->second.upper_bound(marker); it != b->second.end(); ++it)
      if (it->first.rfind(prefix, 0) == 0 && !visit(it->first)) return;
  }
  std::optional<FetchedObject> get_object(const std::string& bucket, const std::string& key) override {
    auto b = buckets.find(bucket);
    if (b == buckets.end()) throw ValidationAbort("An error occurred (NoSuchBucket) when calling the GetObject operation");
    auto o = b->second.find(key);
    if (o == b->second.end()) return std::nullopt;
    return o->second;
  }
  std::vector<PublicKeyEntry> list_public_keys(double, double) override { return keys; }
};

struct Link {
  std::string key, signature, hash;
};

class LogValidator : public ::testing::Test {
 protected:
  static SigningKey& key() {
    static SigningKey k = SigningKeys::generate(kT0 - 86400, kT0 + 86400);
    return k;
  }
  static SigningKey& other_key() {
    static SigningKey k = SigningKeys::generate(kT0 - 86400, kT0 + 86400);
    return k;
  }

  void SetUp() override {
    source.buckets["bucket"];
    source.keys.push_back(PublicKeyEntry{base64_encode(key().public_der), key().fingerprint});
  }

  std::string digest_key(double end, const std::string& prefix = "") {
    return (prefix.empty() ? "" : prefix + "/") + "AWSLogs/" + kAccount + "/CloudTrail-Digest/us-east-1/" + utc(end, "%Y/%m/%d") + "/" + kAccount +
           "_CloudTrail-Digest_us-east-1_audit_us-east-1_" + utc(end, "%Y%m%dT%H%M%SZ") + ".json.gz";
  }
  std::string log_key(double at, int n) {
    return "AWSLogs/" + kAccount + "/CloudTrail/us-east-1/" + utc(at, "%Y/%m/%d") + "/" + kAccount + "_CloudTrail_us-east-1_" +
           utc(at, "%Y%m%dT%H%MZ") + "_log" + std::to_string(n) + ".json.gz";
  }

  // One hourly digest over [start, start + 1h] with `logs` log files, chained to `prev`.
  Link add_digest(double start, int logs, const std::optional<Link>& prev, const SigningKey* signer = nullptr, const std::string& prefix = "",
                  bool backfill = false) {
    double end = start + 3600;
    Value files = Value::list();
    for (int i = 0; i < logs; ++i) {
      std::string content = "{\"Records\":[{\"eventTime\":\"" + utc(start + i, "%Y-%m-%dT%H:%M:%SZ") + "\",\"n\":" + std::to_string(i) + "}]}";
      std::string k = log_key(start + 60 * (i + 1), i);
      source.buckets["bucket"][k] = FetchedObject{gzip(content), {}};
      Value f = Value::map();
      f.set("s3Bucket", "bucket");
      f.set("s3Object", k);
      f.set("hashValue", sha256_hex(content));
      f.set("hashAlgorithm", "SHA-256");
      files.push(std::move(f));
    }
    std::string k = digest_key(end, prefix);
    if (backfill) k.replace(k.size() - 8, 8, "_backfill.json.gz");
    const SigningKey& s = signer ? *signer : key();
    Value d = Value::map();
    d.set("awsAccountId", kAccount);
    d.set("digestStartTime", utc(start, "%Y-%m-%dT%H:%M:%SZ"));
    d.set("digestEndTime", utc(end, "%Y-%m-%dT%H:%M:%SZ"));
    d.set("digestS3Bucket", "bucket");
    d.set("digestS3Object", k);
    d.set("digestPublicKeyFingerprint", key().fingerprint);  // the fingerprint of the listed key
    d.set("digestSignatureAlgorithm", "SHA256withRSA");
    d.set("previousDigestS3Bucket", prev ? Value("bucket") : Value());
    d.set("previousDigestS3Object", prev ? Value(prev->key) : Value());
    d.set("previousDigestHashValue", prev ? Value(prev->hash) : Value());
    d.set("previousDigestHashAlgorithm", prev ? Value("SHA-256") : Value());
    d.set("previousDigestSignature", prev ? Value(prev->signature) : Value());
    d.set("logFiles", std::move(files));
    std::string json = protocol::value_to_json(d, nullptr, true);
    std::string hash = sha256_hex(json);
    std::string to_sign = utc(end, "%Y-%m-%dT%H:%M:%SZ") + "\nbucket/" + k + "\n" + hash + "\n" + (prev ? prev->signature : "null");
    std::string signature = hex_encode(SigningKeys::sign(s, to_sign));
    source.buckets["bucket"][k] = FetchedObject{gzip(json), {{"signature", signature}, {"signature-algorithm", "SHA256withRSA"}}};
    if (backfill) source.buckets["bucket"][k].metadata.emplace_back("backfill-generation-timestamp", utc(end + 60, "%Y-%m-%dT%H:%M:%SZ"));
    return Link{k, signature, hash};
  }

  // A chain of `n` hourly digests from kT0, each with `logs` log files.
  std::vector<Link> chain(int n, int logs = 1) {
    std::vector<Link> links;
    std::optional<Link> prev;
    for (int i = 0; i < n; ++i) {
      links.push_back(add_digest(kT0 + i * 3600, logs, prev));
      prev = links.back();
    }
    return links;
  }

  int run(const std::string& start, const std::string& end, bool verbose = true) {
    ValidateOptions o;
    o.trail_arn = kArn;
    o.start_time = start;
    o.end_time = end;
    o.verbose = verbose;
    o.now = kT0 + 10 * 86400;
    out.str("");
    err.str("");
    return validate_logs(source, o, out, err);
  }

  FakeSource source;
  std::ostringstream out, err;
};

TEST_F(LogValidator, ValidChainPrintsWhatTheCliPrints) {
  auto links = chain(3, 1);
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 0) << out.str() << err.str();
  std::string expected = "Validating log files for trail " + kArn + " between 2024-03-10T00:00:00Z and 2024-03-10T03:00:00Z\n\n";
  for (int i = 2; i >= 0; --i) {
    expected += "Digest file\ts3://bucket/" + links[i].key + "\tvalid\n";
    expected += "Log file\ts3://bucket/" + log_key(kT0 + i * 3600 + 60, 0) + "\tvalid\n";
  }
  expected +=
      "\nResults requested for 2024-03-10T00:00:00Z to 2024-03-10T03:00:00Z\n"
      "Results found for 2024-03-10T00:00:00Z to 2024-03-10T03:00:00Z:\n"
      "\n3/3 digest files valid\n3/3 log files valid\n";
  EXPECT_EQ(out.str(), expected);
  EXPECT_EQ(err.str(), "");
}

TEST_F(LogValidator, NotVerboseShowsOnlyTheSummary) {
  chain(2, 2);
  EXPECT_EQ(run("2024-03-10", "2024-03-10T02:00:00Z", false), 0);
  EXPECT_EQ(out.str().find("Digest file"), std::string::npos);
  EXPECT_NE(out.str().find("\n2/2 digest files valid\n4/4 log files valid\n"), std::string::npos) << out.str();
}

TEST_F(LogValidator, ModifiedLogFile) {
  chain(3, 1);
  std::string k = log_key(kT0 + 3600 + 60, 0);
  source.buckets["bucket"][k].body = gzip("{\"Records\":[]}");
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find("Log file\ts3://bucket/" + k + "\tINVALID: hash value doesn't match\n\n"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("3/3 digest files valid\n2/3 log files valid, 1/3 log files INVALID\n"), std::string::npos) << out.str();
}

TEST_F(LogValidator, DeletedAndMalformedLogFiles) {
  chain(2, 2);
  std::string gone = log_key(kT0 + 60, 0), junk = log_key(kT0 + 120, 1);
  source.buckets["bucket"].erase(gone);
  source.buckets["bucket"][junk].body = "not gzip";
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T02:00:00Z"), 1);
  EXPECT_NE(err.str().find("Log file\ts3://bucket/" + gone + "\tINVALID: not found"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("Log file\ts3://bucket/" + junk + "\tINVALID: invalid format"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("2/4 log files valid, 2/4 log files INVALID"), std::string::npos) << out.str();
}

TEST_F(LogValidator, ForgedSignatureAndTheWalkGoesOn) {
  auto links = chain(3, 1);
  source.buckets["bucket"][links[1].key].metadata = {{"signature", std::string(512, 'a')}, {"signature-algorithm", "SHA256withRSA"}};
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find("Digest file\ts3://bucket/" + links[1].key + "\tINVALID: signature verification failed"), std::string::npos);
  // The oldest digest is still reached (through the listing) and valid; its logs too.
  EXPECT_NE(out.str().find("Digest file\ts3://bucket/" + links[0].key + "\tvalid"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("2/3 digest files valid, 1/3 digest files INVALID\n2/2 log files valid\n"), std::string::npos) << out.str();
  // Verbose stdout lines were printed before the error: the error gets a blank line first.
  EXPECT_EQ(err.str().rfind("\nDigest file", 0), 0u) << err.str();
}

TEST_F(LogValidator, TamperedDigestBodyAndMissingMetadata) {
  auto links = chain(3, 0);
  // A digest whose JSON changed (re-signed body hash no longer matches).
  auto& obj = source.buckets["bucket"][links[2].key];
  obj.body = gzip("{\"digestStartTime\":\"2024-03-10T02:00:00Z\",\"digestEndTime\":\"2024-03-10T03:00:00Z\",\"digestS3Bucket\":\"bucket\","
                  "\"digestS3Object\":\"" + links[2].key + "\",\"digestPublicKeyFingerprint\":\"" + key().fingerprint +
                  "\",\"previousDigestSignature\":null,\"previousDigestS3Bucket\":null,\"logFiles\":[]}");
  source.buckets["bucket"][links[1].key].metadata.clear();
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(links[2].key + "\tINVALID: signature verification failed"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find(links[1].key + "\tINVALID: signature verification failed"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("1/3 digest files valid, 2/3 digest files INVALID"), std::string::npos) << out.str();
}

TEST_F(LogValidator, DeletedMiddleDigestIsNotFound) {
  auto links = chain(3, 1);
  source.buckets["bucket"].erase(links[1].key);
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find("Digest file\ts3://bucket/" + links[1].key + "\tINVALID: not found"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("Digest file\ts3://bucket/" + links[0].key + "\tvalid"), std::string::npos);
  EXPECT_NE(out.str().find("2/3 digest files valid, 1/3 digest files INVALID"), std::string::npos) << out.str();
}

TEST_F(LogValidator, DeletedNewestDigestGoesUnnoticed) {  // as with the CLI (spec §8)
  auto links = chain(3, 0);
  source.buckets["bucket"].erase(links[2].key);
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 0);
  EXPECT_NE(out.str().find("2/2 digest files valid"), std::string::npos) << out.str();
}

TEST_F(LogValidator, ChainRestartPrintsTheGapNotice) {
  Link a = add_digest(kT0, 1, std::nullopt);
  add_digest(kT0 + 3600, 1, a);
  add_digest(kT0 + 3 * 3600, 1, std::nullopt);  // logging stopped for an hour
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T04:00:00Z"), 0) << err.str();
  EXPECT_EQ(err.str(), "\nNo log files were delivered by CloudTrail between 2024-03-10T02:00:00Z and 2024-03-10T03:00:00Z\n\n");
  EXPECT_NE(out.str().find("3/3 digest files valid\n3/3 log files valid\n"), std::string::npos) << out.str();
}

TEST_F(LogValidator, UnknownFingerprintAndWrongKey) {
  auto links = chain(2, 0);
  Link forged = add_digest(kT0 + 2 * 3600, 0, links[1], &other_key());  // signed by another key, names the listed one
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(forged.key + "\tINVALID: signature verification failed"), std::string::npos) << err.str();

  source.keys[0].fingerprint = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find("INVALID: public key not found in region us-east-1 for fingerprint " + key().fingerprint), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("No valid digests found in range\n\n0/3 digest files valid, 3/3 digest files INVALID"), std::string::npos) << out.str();

  source.keys[0] = PublicKeyEntry{base64_encode("not a key"), key().fingerprint};
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find("INVALID: Unable to load PKCS #1 key with fingerprint " + key().fingerprint), std::string::npos) << err.str();
}

TEST_F(LogValidator, MovedAndMalformedDigests) {
  auto links = chain(2, 0);
  std::string moved = digest_key(kT0 + 3 * 3600);
  source.buckets["bucket"][moved] = source.buckets["bucket"][links[1].key];
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(moved + "\tINVALID: has been moved from its original location"), std::string::npos) << err.str();
  // After the invalid newest key the walk resumes at the next older listed key.
  EXPECT_NE(out.str().find("2/3 digest files valid, 1/3 digest files INVALID"), std::string::npos) << out.str();

  source.buckets["bucket"][moved].body = "garbage";
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(moved + "\tINVALID: invalid format"), std::string::npos) << err.str();
  source.buckets["bucket"][moved].body = gzip("{\"logFiles\":[]}");
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(moved + "\tINVALID: invalid format"), std::string::npos) << err.str();
  source.buckets["bucket"][moved].metadata = {{"signature", "abc"}, {"signature-algorithm", "SHA256withRSA"}};
  source.buckets["bucket"][moved].body = source.buckets["bucket"][links[1].key].body;
  source.buckets["bucket"].erase(links[1].key);
  source.buckets["bucket"][links[1].key] = source.buckets["bucket"][moved];
  source.buckets["bucket"].erase(moved);
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T03:00:00Z"), 1);
  EXPECT_NE(err.str().find(links[1].key + "\tINVALID: Odd-length string"), std::string::npos) << err.str();
}

TEST_F(LogValidator, TimeRange) {
  auto links = chain(6, 0);  // 00:00 .. 06:00
  // Listed: keys dated from start to end + 1 h (03:00 and 04:00); the walk starts at the
  // newest and follows the chain down to the first digest starting before the start.
  EXPECT_EQ(run("2024-03-10T02:30:00Z", "2024-03-10T03:30:00Z"), 0);
  EXPECT_NE(out.str().find("Digest file\ts3://bucket/" + links[3].key + "\tvalid"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Digest file\ts3://bucket/" + links[2].key + "\tvalid"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find(links[4].key), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find(links[1].key), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Results found for 2024-03-10T02:30:00Z to 2024-03-10T03:30:00Z:\n\n2/2 digest files valid\n"), std::string::npos)
      << out.str();

  // An empty window.
  EXPECT_EQ(run("2024-03-11T00:00:00Z", "2024-03-11T05:00:00Z"), 0);
  EXPECT_NE(out.str().find("Results requested for 2024-03-11T00:00:00Z to 2024-03-11T05:00:00Z\nNo digests found\n"), std::string::npos) << out.str();

  // The offset of a time is dropped, not applied (as the CLI does).
  EXPECT_EQ(run("2024-03-10T02:30:00+05:00", "2024-03-10T03:30:00+05:00"), 0);
  EXPECT_NE(out.str().find("between 2024-03-10T02:30:00Z and 2024-03-10T03:30:00Z"), std::string::npos) << out.str();

  EXPECT_EQ(run("2024-03-10T05:00:00Z", "2024-03-10T01:00:00Z"), 255);
  EXPECT_NE(err.str().find("Invalid time range specified"), std::string::npos);
  EXPECT_EQ(run("yesterday", ""), 255);
}

TEST_F(LogValidator, Aborts) {
  chain(1, 0);
  source.keys.clear();
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T01:00:00Z"), 255);
  EXPECT_NE(err.str().find("No public keys found between 2024-03-10T00:00:00Z and 2024-03-10T03:00:00Z"), std::string::npos) << err.str();
  source.trail.reset();
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T01:00:00Z"), 255);
  EXPECT_NE(err.str().find("A trail could not be found for " + kArn), std::string::npos) << err.str();
  ValidateOptions o;
  o.trail_arn = "arn:aws:cloudtrail:us-east-1:123:trail/x";
  o.start_time = "2024-03-10";
  EXPECT_EQ(validate_logs(source, o, out, err), 255);
}

TEST_F(LogValidator, KeyPrefixAcrossMidnight) {
  source.trail = TrailLocation{"bucket", "org/trails", false};
  Link a = add_digest(kT0 + 22 * 3600, 1, std::nullopt, nullptr, "org/trails");
  Link b = add_digest(kT0 + 23 * 3600, 1, a, nullptr, "org/trails");  // ends at midnight: next day's folder
  add_digest(kT0 + 24 * 3600, 1, b, nullptr, "org/trails");
  EXPECT_EQ(run("2024-03-10T22:00:00Z", "2024-03-11T01:00:00Z"), 0) << err.str();
  EXPECT_NE(out.str().find("3/3 digest files valid\n3/3 log files valid"), std::string::npos) << out.str();
}

TEST_F(LogValidator, BackfillDigestsInASecondPass) {
  auto links = chain(2, 1);
  Link filled = add_digest(kT0 + 3600, 1, std::nullopt, nullptr, "", /*backfill=*/true);
  Link broken = add_digest(kT0, 0, std::nullopt, nullptr, "", /*backfill=*/true);
  source.buckets["bucket"][broken.key].metadata.pop_back();  // no backfill-generation-timestamp
  EXPECT_EQ(run("2024-03-10T00:00:00Z", "2024-03-10T02:00:00Z"), 1);
  EXPECT_NE(out.str().find("(backfill) Digest file\ts3://bucket/" + filled.key + "\tvalid\n"), std::string::npos) << out.str();
  EXPECT_NE(err.str().find("(backfill) Digest file\ts3://bucket/" + broken.key + "\tINVALID: invalid format"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("\n2/2 digest files valid\n1/2 backfill digest files valid, 1/2 backfill digest files INVALID\n3/3 log files valid\n"),
            std::string::npos)
      << out.str();
}

TEST(LogValidatorTime, ParsesWhatTheCliAccepts) {
  EXPECT_EQ(parse_time("2024-03-10")->wall, kT0);
  EXPECT_EQ(parse_time("2024-03-10T01:02:03Z")->wall, kT0 + 3723);
  EXPECT_EQ(parse_time("20240310T010203Z")->wall, kT0 + 3723);
  EXPECT_EQ(parse_time("2024-03-10 01:02")->wall, kT0 + 3720);
  EXPECT_FALSE(parse_time("2024-03-10T01:02:03")->has_zone);
  auto t = parse_time("2024-03-10T01:00:00.5+01:00");
  EXPECT_DOUBLE_EQ(t->wall, kT0 + 3600.5);
  EXPECT_DOUBLE_EQ(t->utc, kT0 + 0.5);
  EXPECT_FALSE(parse_time("2024-13-10"));
  EXPECT_FALSE(parse_time("soon"));
  EXPECT_EQ(format_display_time(kT0 + 59.9), "2024-03-10T00:00:59Z");
}

}  // namespace
}  // namespace vigil::cloudtrail
