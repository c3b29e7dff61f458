#include "services/cloudtrail/lake_delivery.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <ctime>
#include <memory>
#include <stdexcept>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/value.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/trails.h"

namespace vigil::cloudtrail {

namespace {

constexpr size_t kMaxKeyBytes = 1024;  // S3's longest key

std::string utc_text(double seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// One gzip member written into an object file as the text comes (64 KiB of output at a time),
// with the SHA-256 of the compressed bytes (the sign file's fileHashValue).
class GzipObject {
 public:
  explicit GzipObject(const s3::ObjectStore& objects) : file_(objects.new_file()), sha_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2 failed");
    if (!sha_ || EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 unavailable");
  }
  ~GzipObject() { deflateEnd(&zs_); }
  GzipObject(const GzipObject&) = delete;
  GzipObject& operator=(const GzipObject&) = delete;

  void write(std::string_view text) {
    plain_bytes_ += text.size();
    pump(text, Z_NO_FLUSH);
  }
  // Ends the gzip member; the file is then ready for put_file().
  void finish() { pump({}, Z_FINISH); }
  uint64_t plain_bytes() const { return plain_bytes_; }
  s3::DurableFile& file() { return file_; }
  std::string sha256_hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_.get(), md, &len);
    return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
  }

 private:
  void pump(std::string_view in, int flush) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    char out[64 * 1024];
    for (;;) {
      zs_.next_out = reinterpret_cast<Bytef*>(out);
      zs_.avail_out = sizeof out;
      int rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_ERROR) throw std::runtime_error("deflate failed");
      size_t produced = sizeof out - zs_.avail_out;
      if (produced) {
        file_.append(std::string_view(out, produced));
        EVP_DigestUpdate(sha_.get(), out, produced);
      }
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (zs_.avail_in == 0 && zs_.avail_out != 0)) break;
    }
  }

  s3::DurableFile file_;
  z_stream zs_{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha_;
  uint64_t plain_bytes_ = 0;
};

}  // namespace

DeliveryTarget parse_delivery_uri(std::string_view uri) {
  if (uri.rfind("s3://", 0) != 0) throw AwsError("InvalidS3BucketNameException", "DeliveryS3Uri must begin with s3://.", 400);
  std::string_view rest = uri.substr(5);
  size_t slash = rest.find('/');
  DeliveryTarget t;
  t.bucket = std::string(rest.substr(0, slash));
  if (!s3::valid_bucket_name(t.bucket)) throw AwsError("InvalidS3BucketNameException", "Bucket name is not valid: " + t.bucket, 400);
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  t.prefix = std::string(prefix);
  // The longest key delivered: prefix + AWSLogs/<16-digit account>/CloudTrail-Lake/Query/
  // YYYY/MM/DD/<36-char id>/result_NNNN.csv.gz, about 110 characters.
  if (t.prefix.size() + 128 > kMaxKeyBytes) throw AwsError("InvalidS3PrefixException", "The S3 prefix of DeliveryS3Uri is too long.", 400);
  return t;
}

std::string delivery_folder(const DeliveryTarget& target, const std::string& account, const std::string& query_id, double when) {
  std::string key = target.prefix.empty() ? std::string() : target.prefix + "/";
  key += "AWSLogs/" + account + "/CloudTrail-Lake/Query/" + utc_text(when, "%Y/%m/%d") + "/" + query_id + "/";
  return key;
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string deliver_query_results(s3::ObjectStore& objects, SigningKeys& keys, const DeliveryRequest& r, const ResultRows& rows, double now) {
  const std::string& bucket = r.target.bucket;
  std::string folder = delivery_folder(r.target, r.account, r.query_id, now);
  auto access = [&](const std::string& key) { return cloudtrail_bucket_access(objects, r.policy_required, r.account, r.source_arn, bucket, "arn:aws:s3:::" + bucket + "/" + key, now); };
  auto status_of = [](const std::string& denied, bool sign_file) -> std::string {
    if (denied == "NoSuchBucket") return "RESOURCE_NOT_FOUND";
    return sign_file ? "ACCESS_DENIED_SIGNING_FILE" : "ACCESS_DENIED";
  };

  Value files = Value::list();
  std::unique_ptr<GzipObject> current;
  std::string current_name, failure;
  std::vector<std::string> header;
  size_t next_file = 1;
  // Closes the open result file: its object is written, its hash listed.
  auto close_file = [&]() -> bool {
    current->finish();
    std::string key = folder + current_name;
    if (std::string denied = access(key); !denied.empty()) {
      failure = status_of(denied, false);
      return false;
    }
    s3::ObjectRecord meta;
    meta.content_type = "text/csv";
    meta.headers.emplace_back("ContentEncoding", "gzip");
    try {
      objects.put_file(bucket, key, current->file(), meta, now);
    } catch (const AwsError& e) {
      failure = e.code() == "NoSuchBucket" ? "RESOURCE_NOT_FOUND" : "FAILED";
      return false;
    }
    Value entry = Value::map();
    entry.set("fileHashValue", current->sha256_hex());
    entry.set("fileName", current_name);
    files.push(std::move(entry));
    current.reset();
    return true;
  };
  auto open_file = [&] {
    current_name = "result_" + std::to_string(next_file++) + ".csv.gz";
    current = std::make_unique<GzipObject>(objects);
    if (!header.empty()) {
      std::string line;
      for (size_t i = 0; i < header.size(); ++i) line += (i ? "," : "") + csv_field(header[i]);
      current->write(line + "\r\n");
    }
  };

  try {
    // Refused before any bytes are written: the first result file's key.
    if (std::string denied = access(folder + "result_1.csv.gz"); !denied.empty()) return status_of(denied, false);
    std::string line;
    rows([&](const std::vector<std::pair<std::string, std::string>>& row) {
      if (!current) {
        if (header.empty())
          for (const auto& [name, value] : row) header.push_back(name);
        open_file();
      }
      line.clear();
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) line += ',';
        line += csv_field(row[i].second);
      }
      line += "\r\n";
      current->write(line);
      if (current->plain_bytes() >= r.max_file_bytes && !close_file()) return false;
      return true;
    });
    if (!failure.empty()) return failure;
    if (!current && files.size() == 0) open_file();  // no rows: one empty result file
    if (current && !close_file()) return failure;
  } catch (const std::exception&) {
    return failure.empty() ? "FAILED" : failure;
  }

  // The sign file, plain JSON beside the results.
  std::string sign_key = folder + "result_sign.json";
  if (std::string denied = access(sign_key); !denied.empty()) return status_of(denied, true);
  try {
    std::string hashes;
    for (const Value& f : files.as_list()) {
      if (!hashes.empty()) hashes += ' ';
      hashes += f.str("fileHashValue");
    }
    SigningKey key = keys.current(r.account, r.region);
    Value sign = Value::map();
    sign.set("version", "1.0");
    sign.set("region", r.region);
    sign.set("files", files);
    sign.set("hashAlgorithm", "SHA-256");
    sign.set("signatureAlgorithm", "SHA256withRSA");
    sign.set("queryCompleteTime", utc_text(now, "%Y-%m-%dT%H:%M:%SZ"));
    sign.set("hashSignature", hex_encode(SigningKeys::sign(key, hashes)));
    sign.set("publicKeyFingerprint", key.fingerprint);
    s3::ObjectRecord meta;
    meta.content_type = "application/json";
    objects.put(bucket, sign_key, protocol::value_to_json(sign), meta, now);
  } catch (const AwsError& e) {
    return e.code() == "NoSuchBucket" ? "RESOURCE_NOT_FOUND" : "FAILED_SIGNING_FILE";
  } catch (const std::exception&) {
    return "FAILED_SIGNING_FILE";
  }
  return "SUCCESS";
}

}  // namespace vigil::cloudtrail
