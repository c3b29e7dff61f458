#include "tools/trail_validate.h"

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/url.h"
#include "core/value.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/log_validator.h"
#include "services/cloudtrail/signing_keys.h"
#include "services/cloudtrail/trails.h"
#include "services/kms/keys.h"
#include "services/s3/object_store.h"
#include "store/store.h"

namespace vigil::tools {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using cloudtrail::FetchedObject;
using cloudtrail::PublicKeyEntry;
using cloudtrail::TrailLocation;
using cloudtrail::ValidationAbort;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// ---- HTTP with SigV4 ------------------------------------------------------------------------

using Url = HttpUrl;

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

struct Response {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpClient {
 public:
  HttpClient(Url url, std::string access_key, std::string secret_key, std::string session_token)
      : url_(std::move(url)), access_key_(std::move(access_key)), secret_key_(std::move(secret_key)), session_token_(std::move(session_token)) {}

  // `path` and `query` already encoded as they go on the wire (and into the canonical request).
  Response send(const std::string& method, const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
                const std::vector<std::pair<std::string, std::string>>& extra_headers, const std::string& body, const std::string& service,
                const std::string& region) {
    // Canonical query: encoded pairs sorted by key then value.
    std::vector<std::pair<std::string, std::string>> encoded;
    for (const auto& q : query) encoded.emplace_back(percent_encode(q.first, false), percent_encode(q.second, false));
    std::sort(encoded.begin(), encoded.end());
    std::string query_text;
    for (const auto& q : encoded) {
      if (!query_text.empty()) query_text += '&';
      query_text += q.first + "=" + q.second;
    }
    std::string full_path = url_.base_path() + path;
    bool default_port = url_.port == (url_.https ? "443" : "80");
    std::string host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    if (!default_port) host += ":" + url_.port;

    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char amz_date[32], date[16];
    std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    std::strftime(date, sizeof date, "%Y%m%d", &tm);
    std::string payload_hash = cloudtrail::sha256_hex(body);

    std::map<std::string, std::string> signed_headers{{"host", host}, {"x-amz-content-sha256", payload_hash}, {"x-amz-date", amz_date}};
    if (!session_token_.empty()) signed_headers["x-amz-security-token"] = session_token_;
    for (const auto& h : extra_headers) {
      std::string lower = h.first;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      signed_headers[lower] = h.second;
    }
    std::string canonical_headers, signed_names;
    for (const auto& h : signed_headers) {
      canonical_headers += h.first + ":" + h.second + "\n";
      if (!signed_names.empty()) signed_names += ';';
      signed_names += h.first;
    }
    // S3 signs the path as sent; other services encode it once more (it holds no escapes here).
    std::string canonical_path = full_path.empty() ? "/" : full_path;
    if (service != "s3") canonical_path = percent_encode(percent_decode(canonical_path, false), true);
    std::string canonical = method + "\n" + canonical_path + "\n" + query_text + "\n" + canonical_headers + "\n" + signed_names + "\n" + payload_hash;
    std::string scope = std::string(date) + "/" + region + "/" + service + "/aws4_request";
    std::string to_sign = std::string("AWS4-HMAC-SHA256\n") + amz_date + "\n" + scope + "\n" + cloudtrail::sha256_hex(canonical);
    std::string key = hmac(hmac(hmac(hmac("AWS4" + secret_key_, date), region), service), "aws4_request");
    std::string signature = hex_encode(hmac(key, to_sign));

    std::string target = (full_path.empty() ? "/" : full_path) + (query_text.empty() ? "" : "?" + query_text);
    bhttp::request<bhttp::string_body> req{method == "POST" ? bhttp::verb::post : bhttp::verb::get, target, 11};
    for (const auto& h : signed_headers) req.set(h.first, h.second);
    req.set(bhttp::field::authorization,
            "AWS4-HMAC-SHA256 Credential=" + access_key_ + "/" + scope + ", SignedHeaders=" + signed_names + ", Signature=" + signature);
    req.set(bhttp::field::user_agent, std::string("vigil-trail-validate/") + VIGIL_VERSION);
    req.body() = body;
    req.prepare_payload();
    try {
      return exchange(req);
    } catch (const std::exception& e) {
      throw ValidationAbort("Could not connect to the endpoint URL: \"" + std::string(url_.https ? "https://" : "http://") + host + target +
                            "\" (" + e.what() + ")");
    }
  }

 private:
  template <class Stream>
  static Response roundtrip(Stream& stream, bhttp::request<bhttp::string_body>& req) {
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    bhttp::read(stream, buffer, parser);
    Response r;
    r.status = static_cast<int>(parser.get().result_int());
    r.body = std::move(parser.get().body());
    for (const auto& field : parser.get()) r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return r;
  }

  Response exchange(bhttp::request<bhttp::string_body>& req) {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(url_.host, url_.port);
    auto timeout = std::chrono::seconds(120);
    if (!url_.https) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout);
      stream.connect(endpoints);
      Response r = roundtrip(stream, req);
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return r;
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    std::string bundle = env_or("AWS_CA_BUNDLE", "");
    if (!bundle.empty()) ctx.load_verify_file(bundle);
    else ctx.set_default_verify_paths();
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) throw std::runtime_error("cannot set SNI");
    stream.set_verify_callback(asio::ssl::host_name_verification(url_.host));
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(asio::ssl::stream_base::client);
    Response r = roundtrip(stream, req);
    beast::error_code ec;
    stream.shutdown(ec);
    return r;
  }

  Url url_;
  std::string access_key_, secret_key_, session_token_;
};

std::string s3_error_code(const Response& r, std::string* message) {
  pugi::xml_document doc;
  if (!r.body.empty() && doc.load_buffer(r.body.data(), r.body.size())) {
    pugi::xml_node error = doc.child("Error");
    if (error) {
      if (message) *message = error.child_value("Message");
      return error.child_value("Code");
    }
  }
  // botocore's fallback for a bodyless error: the status code and reason.
  if (message) *message = r.status == 404 ? "Not Found" : r.status == 403 ? "Forbidden" : "";
  return std::to_string(r.status);
}

[[noreturn]] void s3_abort(const Response& r, const char* operation) {
  std::string message;
  std::string code = s3_error_code(r, &message);
  throw ValidationAbort("An error occurred (" + code + ") when calling the " + operation + " operation: " + message);
}

// The trail `arn` of a DescribeTrails answer: where its files are.
std::optional<TrailLocation> trail_location(const Value& described, const std::string& arn) {
  const Value* list = described.get("trailList");
  if (!list || !list->is_list()) return std::nullopt;
  for (const Value& t : list->as_list()) {
    if (t.str("TrailARN") != arn) continue;
    TrailLocation loc;
    loc.bucket = std::string(t.str("S3BucketName"));
    loc.prefix = std::string(t.str("S3KeyPrefix"));
    const Value* org = t.get("IsOrganizationTrail");
    loc.organization = org && org->kind() == Value::Kind::Bool && org->as_bool();
    return loc;
  }
  return std::nullopt;
}

class HttpSource final : public cloudtrail::ValidationSource {
 public:
  HttpSource(HttpClient& client, std::string region) : client_(client), region_(std::move(region)) {}

  std::optional<TrailLocation> describe_trail(const std::string& arn) override {
    Value out = cloudtrail_call("DescribeTrails", "{}");
    return trail_location(out, arn);
  }

  void list_keys(const std::string& bucket, const std::string& prefix, const std::string& marker,
                 const std::function<bool(const std::string&)>& visit) override {
    std::string region = bucket_region(bucket);
    std::string next = marker;
    while (true) {
      Response r = client_.send("GET", "/" + percent_encode(bucket, false), {{"marker", next}, {"prefix", prefix}}, {}, "", "s3", region);
      if (r.status != 200) s3_abort(r, "ListObjects");
      pugi::xml_document doc;
      if (!doc.load_buffer(r.body.data(), r.body.size())) throw ValidationAbort("ListObjects: unreadable response");
      pugi::xml_node result = doc.child("ListBucketResult");
      std::string last;
      for (pugi::xml_node c : result.children("Contents")) {
        last = c.child_value("Key");
        if (!visit(last)) return;
      }
      if (std::string(result.child_value("IsTruncated")) != "true" || last.empty()) return;
      std::string next_marker = result.child_value("NextMarker");
      next = next_marker.empty() ? last : next_marker;
    }
  }

  std::optional<FetchedObject> get_object(const std::string& bucket, const std::string& key) override {
    Response r = client_.send("GET", "/" + percent_encode(bucket, false) + "/" + percent_encode(key, true), {}, {}, "", "s3", bucket_region(bucket));
    if (r.status == 404 && s3_error_code(r, nullptr) == "NoSuchKey") return std::nullopt;
    if (r.status != 200) s3_abort(r, "GetObject");
    FetchedObject o;
    o.body = std::move(r.body);
    for (auto& h : r.headers) {
      if (h.first.size() > 11 && equals_ignore_case(std::string_view(h.first).substr(0, 11), "x-amz-meta-"))
        o.metadata.emplace_back(h.first.substr(11), h.second);  // name case as sent, as botocore keeps it
    }
    return o;
  }

  std::vector<PublicKeyEntry> list_public_keys(double start, double end) override {
    std::string body = "{\"StartTime\":" + format_epoch_number(start) + ",\"EndTime\":" + format_epoch_number(end) + "}";
    Value out = cloudtrail_call("ListPublicKeys", body);
    std::vector<PublicKeyEntry> keys;
    if (const Value* list = out.get("PublicKeyList"); list && list->is_list())
      for (const Value& k : list->as_list()) keys.push_back(PublicKeyEntry{std::string(k.str("Value")), std::string(k.str("Fingerprint"))});
    return keys;
  }

 private:
  Value cloudtrail_call(const std::string& operation, const std::string& body) {
    Response r = client_.send("POST", "/", {},
                              {{"Content-Type", "application/x-amz-json-1.1"},
                               {"X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101." + operation}},
                              body, "cloudtrail", region_);
    Value out;
    try {
      out = protocol::json_to_value(r.body.empty() ? std::string("{}") : r.body, nullptr);
    } catch (const std::exception&) {
      throw ValidationAbort("An error occurred when calling the " + operation + " operation: unreadable response (HTTP " + std::to_string(r.status) + ")");
    }
    if (r.status != 200) {
      std::string type(out.str("__type", "Unknown"));
      if (size_t hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
      std::string message(out.str("message", out.str("Message")));
      throw ValidationAbort("An error occurred (" + type + ") when calling the " + operation + " operation: " + message);
    }
    return out;
  }

  // GetBucketLocation, signed with the CLI's region; later calls are signed with its answer.
  std::string bucket_region(const std::string& bucket) {
    auto it = regions_.find(bucket);
    if (it != regions_.end()) return it->second;
    Response r = client_.send("GET", "/" + percent_encode(bucket, false), {{"location", ""}}, {}, "", "s3", region_);
    if (r.status != 200) s3_abort(r, "GetBucketLocation");
    pugi::xml_document doc;
    std::string region;
    if (doc.load_buffer(r.body.data(), r.body.size())) region = doc.first_child().child_value();
    if (region.empty()) region = "us-east-1";
    regions_[bucket] = region;
    return region;
  }

  HttpClient& client_;
  std::string region_;
  std::map<std::string, std::string> regions_;
};

// ---- a stopped server's data directory -----------------------------------------------------

class StoreSource final : public cloudtrail::ValidationSource {
 public:
  StoreSource(const std::string& dir, std::string account, std::string region)
      : store_(store::Store::open(dir)),
        objects_(*store_, dir + "/s3"),
        kms_keys_(*store_, clock_, objects_.master_key()),
        trails_(*store_, clock_, objects_),
        account_(std::move(account)),
        region_(std::move(region)) {
    // The log files of a trail with a KmsKeyId are SSE-KMS: their data keys are wrapped by the
    // KMS key (object_store.h), so reading them needs the server's KMS keys too.
    kms_keys_.load();
    objects_.set_kms(&kms_keys_);
    trails_.load();
  }

  std::optional<TrailLocation> describe_trail(const std::string& arn) override {
    Value out = trails_.describe(account_, region_, Value::map());
    return trail_location(out, arn);
  }

  void list_keys(const std::string& bucket, const std::string& prefix, const std::string& marker,
                 const std::function<bool(const std::string&)>& visit) override {
    if (!objects_.bucket(bucket)) throw ValidationAbort("An error occurred (NoSuchBucket) when calling the ListObjects operation: The specified bucket does not exist");
    s3::ListQuery query;
    query.prefix = prefix;
    query.after = marker;
    while (true) {
      s3::ListResult page = objects_.list(bucket, query);
      std::string last;
      for (const auto& entry : page.entries) {
        if (entry.is_prefix) continue;
        last = entry.object.key;
        if (!visit(last)) return;
      }
      if (!page.truncated || last.empty()) return;
      query.after = last;
    }
  }

  std::optional<FetchedObject> get_object(const std::string& bucket, const std::string& key) override {
    if (!objects_.bucket(bucket)) throw ValidationAbort("An error occurred (NoSuchBucket) when calling the GetObject operation: The specified bucket does not exist");
    auto record = objects_.head(bucket, key);
    if (!record) return std::nullopt;
    FetchedObject o;
    try {
      o.body = objects_.read(*record, 0, record->size);
    } catch (const std::exception& e) {
      throw ValidationAbort("cannot read s3://" + bucket + "/" + key + ": " + e.what());
    }
    o.metadata = record->metadata;
    return o;
  }

  std::vector<PublicKeyEntry> list_public_keys(double start, double end) override {
    std::vector<PublicKeyEntry> out;
    for (const auto& k : trails_.signing_keys().overlapping(account_, region_, start, end))
      out.push_back(PublicKeyEntry{base64_encode(k.public_der), k.fingerprint});
    return out;
  }

 private:
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  s3::ObjectStore objects_;
  kms::KeyStore kms_keys_;
  cloudtrail::TrailStore trails_;
  std::string account_, region_;
};

int usage(FILE* out) {
  std::fprintf(out,
               "usage: vigil trail validate --trail-arn ARN --start-time TIME [--end-time TIME] [--verbose]\n"
               "                            [--region REGION] [--s3-bucket BUCKET [--s3-prefix PREFIX]]\n"
               "                            (--endpoint URL | --data-dir DIR)\n"
               "  --endpoint URL   a running server (default $AWS_ENDPOINT_URL); credentials from\n"
               "                   $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY (default test/test)\n"
               "  --data-dir DIR   a stopped server's data directory, read in place\n"
               "Prints what `aws cloudtrail validate-logs` prints; exit 0 all valid, 1 invalid or\n"
               "missing files, 255 aborted.\n");
  return out == stderr ? 2 : 0;
}

}  // namespace

int trail_validate_main(int argc, char** argv) {
  cloudtrail::ValidateOptions options;
  std::string endpoint, data_dir, region;
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return usage(stdout);
    if (flag == "--verbose") {
      options.verbose = true;
      continue;
    }
    std::string value;
    if (size_t eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "vigil: %s needs a value\n", flag.c_str());
      return usage(stderr);
    }
    if (flag == "--trail-arn") options.trail_arn = value;
    else if (flag == "--start-time") options.start_time = value;
    else if (flag == "--end-time") options.end_time = value;
    else if (flag == "--region") region = value;
    else if (flag == "--s3-bucket") options.s3_bucket = value;
    else if (flag == "--s3-prefix") options.s3_prefix = value;
    else if (flag == "--endpoint" || flag == "--endpoint-url") endpoint = value;
    else if (flag == "--data-dir") data_dir = value;
    else {
      std::fprintf(stderr, "vigil: unknown flag %s\n", flag.c_str());
      return usage(stderr);
    }
  }
  if (options.trail_arn.empty() || options.start_time.empty()) {
    std::fprintf(stderr, "vigil: --trail-arn and --start-time are required\n");
    return usage(stderr);
  }
  if (!endpoint.empty() && !data_dir.empty()) {
    std::fprintf(stderr, "vigil: give --endpoint or --data-dir, not both\n");
    return usage(stderr);
  }
  if (data_dir.empty() && endpoint.empty()) endpoint = env_or("AWS_ENDPOINT_URL", "");
  if (data_dir.empty() && endpoint.empty()) {
    std::fprintf(stderr, "vigil: give --endpoint URL (or set AWS_ENDPOINT_URL) or --data-dir DIR\n");
    return usage(stderr);
  }
  // The ARN's fields (the validator checks the ARN's shape itself).
  std::vector<std::string> parts;
  for (size_t from = 0;;) {
    size_t colon = options.trail_arn.find(':', from);
    parts.push_back(options.trail_arn.substr(from, colon == std::string::npos ? std::string::npos : colon - from));
    if (colon == std::string::npos) break;
    from = colon + 1;
  }
  if (region.empty()) region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", parts.size() > 3 ? parts[3] : std::string("us-east-1")));
  options.source_region = region;
  options.now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

  try {
    if (!data_dir.empty()) {
      std::error_code ec;
      if (!std::filesystem::is_directory(data_dir, ec)) {
        std::fprintf(stderr, "vigil: %s is not a directory\n", data_dir.c_str());
        return 255;
      }
      std::unique_ptr<StoreSource> source;
      try {
        source = std::make_unique<StoreSource>(data_dir, parts.size() > 4 ? parts[4] : std::string(), region);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "vigil: %s\n(a running server locks its data directory: stop it, or use --endpoint)\n", e.what());
        return 255;
      }
      return cloudtrail::validate_logs(*source, options, std::cout, std::cerr);
    }
    auto url = parse_http_url(endpoint);
    if (!url) {
      std::fprintf(stderr, "vigil: invalid endpoint URL %s\n", endpoint.c_str());
      return 2;
    }
    HttpClient client(*url, env_or("AWS_ACCESS_KEY_ID", "test"), env_or("AWS_SECRET_ACCESS_KEY", "test"), env_or("AWS_SESSION_TOKEN", ""));
    HttpSource source(client, region);
    return cloudtrail::validate_logs(source, options, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil: %s\n", e.what());
    return 255;
  }
}

}  // namespace vigil::tools
