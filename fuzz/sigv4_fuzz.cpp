// Feeds arbitrary Authorization headers, query strings, header sets and bodies to the SigV4
// verifier, the credential-scope parser and the error mapping. Half of the inputs are shaped
// like real requests (a templated Authorization header or presigned query with fuzzed parts),
// so the fuzzer also reaches the canonicalisation and signature code, not only the parsers.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

using namespace vigil::auth;

namespace {

const char* const kDates[] = {"20260101T000000Z", "20150830T123600Z", "99991231T235959Z", "00000101T000000Z",
                              "Thu, 01 Jan 2026 00:00:00 GMT"};
const char* const kHeaderNames[] = {"Host", "X-Amz-Date", "Date", "x-amz-content-sha256", "X-Amz-Security-Token",
                                    "Content-Type", "x-amz-meta-a", "Authorization", "X-Amz-Target", "range"};
const char* const kPayloads[] = {"UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x"};

// Independent of sigv4.cpp: the AWS key derivation with OpenSSL's one-shot HMAC().
std::string hmac(const std::string& key, const std::string& msg) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string sign(const std::string& secret, const std::string& scope, const std::string& string_to_sign) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= scope.size(); ++i)
    if (i == scope.size() || scope[i] == '/') {
      parts.push_back(scope.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() != 4) return {};
  std::string key = hmac(hmac(hmac(hmac("AWS4" + secret, parts[0]), parts[1]), parts[2]), parts[3]);
  std::string sig = hmac(key, string_to_sign), hex;
  for (unsigned char c : sig) {
    hex.push_back("0123456789abcdef"[c >> 4]);
    hex.push_back("0123456789abcdef"[c & 15]);
  }
  return hex;
}

bool all_hex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const int mode = fdp.ConsumeIntegralInRange<int>(0, 3);  // 0,1 raw; 2 header template; 3 presigned template

  // Every string the request views must outlive verify_sigv4(): keep them here.
  std::vector<std::string> storage;
  storage.reserve(64);
  auto keep = [&](std::string s) -> std::string_view {
    storage.push_back(std::move(s));
    return storage.back();
  };

  SigV4Request req;
  req.s3_style_path = fdp.ConsumeBool();
  req.body_complete = fdp.ConsumeBool();
  req.method = keep(fdp.ConsumeRandomLengthString(8));
  req.raw_path = keep(fdp.ConsumeRandomLengthString(64));
  std::string query = fdp.ConsumeRandomLengthString(128);
  const std::string date = fdp.ConsumeBool() ? kDates[fdp.ConsumeIntegralInRange<size_t>(0, 4)]
                                             : fdp.ConsumeRandomLengthString(20);
  const std::string credential = fdp.ConsumeBool()
                                     ? "AKID/" + date.substr(0, 8) + "/us-east-1/" + fdp.ConsumeRandomLengthString(8) +
                                           "/aws4_request"
                                     : fdp.ConsumeRandomLengthString(48);
  const std::string signed_headers =
      fdp.ConsumeBool() ? std::string("host;x-amz-date") : fdp.ConsumeRandomLengthString(40);
  const std::string signature = fdp.ConsumeRandomLengthString(70);

  if (mode == 2) {
    req.headers.emplace_back("Host", "localhost");
    req.headers.emplace_back("X-Amz-Date", keep(date));
    req.headers.emplace_back(
        "Authorization",
        keep("AWS4-HMAC-SHA256 Credential=" + credential + ", SignedHeaders=" + signed_headers + ", Signature=" + signature));
  } else if (mode == 3) {
    req.headers.emplace_back("Host", "localhost");
    query += "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + credential + "&X-Amz-Date=" + date +
             "&X-Amz-Expires=" + fdp.ConsumeRandomLengthString(8) + "&X-Amz-SignedHeaders=" + signed_headers +
             "&X-Amz-Signature=" + signature;
  }
  req.raw_query = keep(std::move(query));

  const size_t header_count = fdp.ConsumeIntegralInRange<size_t>(0, 12);
  for (size_t i = 0; i < header_count && fdp.remaining_bytes() > 0; ++i) {
    std::string_view name = fdp.ConsumeBool() ? std::string_view(kHeaderNames[fdp.ConsumeIntegralInRange<size_t>(0, 9)])
                                              : keep(fdp.ConsumeRandomLengthString(24));
    const bool payload_header = name == "x-amz-content-sha256";
    std::string_view value = (payload_header && fdp.ConsumeBool())
                                 ? std::string_view(kPayloads[fdp.ConsumeIntegralInRange<size_t>(0, 4)])
                                 : keep(fdp.ConsumeRandomLengthString(96));
    req.headers.emplace_back(name, value);
  }

  const bool known_key = fdp.ConsumeBool();
  const std::string secret = fdp.ConsumeRandomLengthString(40);
  // Around the templated dates, plus anything within +-300 years of the epoch.
  const std::int64_t now_s = fdp.ConsumeBool() ? 1767225600 + fdp.ConsumeIntegralInRange<std::int64_t>(-2000, 2000)
                                               : fdp.ConsumeIntegralInRange<std::int64_t>(-9'000'000'000, 9'000'000'000);
  req.body = keep(fdp.ConsumeRemainingBytesAsString());

  SecretLookup lookup = [&](std::string_view) -> std::optional<std::string> {
    if (known_key) return secret;
    return std::nullopt;
  };
  const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{now_s}};

  AuthResult r = verify_sigv4(req, lookup, now);
  for (ProtocolFamily f : {ProtocolFamily::Json, ProtocolFamily::Query, ProtocolFamily::S3}) {
    AwsAuthError e = aws_error_for(r, f);
    if (r.ok() != e.code.empty()) __builtin_trap();  // a failure always maps to an error code
  }
  // Property: the same request carrying the right signature verifies (or, signature accepted,
  // fails only the declared-body-hash check that follows it).
  if (mode == 2 && known_key && r.failure == AuthFailure::SignatureMismatch && r.detail == AuthDetail::None &&
      all_hex(signature)) {
    const std::string good = sign(secret, r.credential_scope, r.string_to_sign);
    req.headers[2].second = keep("AWS4-HMAC-SHA256 Credential=" + credential + ", SignedHeaders=" + signed_headers +
                                 ", Signature=" + good);
    r = verify_sigv4(req, lookup, now);
    if (r.failure != AuthFailure::None && r.failure != AuthFailure::ContentSha256Mismatch) __builtin_trap();
  }
  if (r.ok() && !r.signing_key.empty())
    (void)chunk_signature(r.signing_key, r.amz_date, r.credential_scope, r.seed_signature, req.body);
  (void)parse_credential_scope(req);
  return 0;
}
