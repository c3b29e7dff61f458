// SigV4 verification. See sigv4.h for the canonicalisation rules and aws_error_for() below for
// where each error code and message comes from.
//
// Cost of the hot path (a request whose signing key is cached): parsing the Authorization
// header and query, sorting the lowercased header names once (n log n in the header count),
// building the canonical request (linear in the request line and signed headers), one SHA-256
// of the canonical request, one SHA-256 of the body when x-amz-content-sha256 is absent or is a
// hex hash to check (linear in the body -- the only part that grows with the request), one
// HMAC-SHA256 over the ~150-byte string to sign, a hash-map lookup under a mutex, and a 64-byte
// CRYPTO_memcmp: a few microseconds plus the body hash. A cache miss adds the four chained HMACs
// of the key derivation (a few microseconds more), once per key, region, service and day.
#include "auth/sigv4.h"

#include "core/encoding.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

namespace vigil::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view kStreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::int64_t kSkewSeconds = 15 * 60;
constexpr std::int64_t kMaxExpires = 604800;
constexpr std::int64_t kDefaultPresignWindow = 15 * 60;  // non-S3, no X-Amz-Expires

constexpr std::string_view kMsgSignatureMismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

using Digest = std::array<unsigned char, 32>;

// ---- crypto ---------------------------------------------------------------------------------

// Fetched once: OpenSSL 3's implicit fetch inside EVP_Digest/HMAC() costs more than the hash
// of a short string, and both objects are safe to share between threads.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
EVP_MAC* hmac_mac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

const unsigned char* bytes(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

bool sha256(std::string_view data, Digest& out) {
  unsigned int len = 0;
  return sha256_md() != nullptr &&
         EVP_Digest(bytes(data), data.size(), out.data(), &len, sha256_md(), nullptr) == 1 && len == out.size();
}

bool hmac_sha256(std::string_view key, std::string_view data, Digest& out) {
  if (hmac_mac() == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_mac());
  if (ctx == nullptr) return false;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  size_t len = 0;
  bool ok = EVP_MAC_init(ctx, bytes(key), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, bytes(data), data.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
  EVP_MAC_CTX_free(ctx);
  return ok;
}

std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::string to_hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    out[2 * i] = kHex[c >> 4];
    out[2 * i + 1] = kHex[c & 0xF];
  }
  return out;
}

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
bool derive_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service, Digest& out) {
  std::string k_secret;
  k_secret.reserve(4 + secret.size());
  k_secret.append("AWS4").append(secret);
  Digest k_date, k_region, k_service;
  bool ok = hmac_sha256(k_secret, date, k_date) && hmac_sha256(as_view(k_date), region, k_region) &&
            hmac_sha256(as_view(k_region), service, k_service) &&
            hmac_sha256(as_view(k_service), kTerminator, out);
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  return ok;
}

// Signing keys change once a day per (secret, region, service), and every request needs one:
// caching saves four HMACs per request. Bounded: cleared wholesale when full (entries are only
// added after the access key was found, so only key holders can fill it).
class SigningKeyCache {
 public:
  bool get(std::string_view secret, std::string_view date, std::string_view region,
           std::string_view service, Digest& out) {
    std::string key;
    key.reserve(secret.size() + date.size() + region.size() + service.size() + 3);
    key.append(secret).push_back('\0');
    key.append(date).push_back('\0');
    key.append(region).push_back('\0');
    key.append(service);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = keys_.find(key);
      if (it != keys_.end()) {
        out = it->second;
        return true;
      }
    }
    if (!derive_signing_key(secret, date, region, service, out)) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (keys_.size() >= kMaxEntries) keys_.clear();
    keys_.emplace(std::move(key), out);
    return true;
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  std::mutex mutex_;
  std::unordered_map<std::string, Digest> keys_;
};

SigningKeyCache& signing_key_cache() {
  static SigningKeyCache cache;
  return cache;
}

// ---- text helpers ---------------------------------------------------------------------------

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// "Trimall": strip, and turn every run of whitespace into one space (what botocore does with
// ' '.join(value.split())).
void append_trimall(std::string& out, std::string_view value) {
  bool pending_space = false, any = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = any;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    any = true;
    out.push_back(c);
  }
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void append_encoded(std::string& out, std::string_view raw, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form-style decoding of one query component: %XX becomes the byte, '+' a space; a '%' not
// followed by two hex digits is kept literally (and so re-encodes as %25).
std::string query_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct QueryParam {
  std::string key, value;          // decoded
  std::string enc_key, enc_value;  // canonical (RFC 3986) encoding
};

std::vector<QueryParam> parse_query(std::string_view raw) {
  std::vector<QueryParam> params;
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    QueryParam p;
    p.key = query_decode(part.substr(0, eq));
    p.value = eq == std::string_view::npos ? std::string{} : query_decode(part.substr(eq + 1));
    append_encoded(p.enc_key, p.key, false);
    append_encoded(p.enc_value, p.value, false);
    params.push_back(std::move(p));
  }
  return params;
}

const QueryParam* find_param(const std::vector<QueryParam>& params, std::string_view key) {
  for (const auto& p : params)
    if (p.key == key) return &p;
  return nullptr;
}

std::string canonical_query(const std::vector<QueryParam>& params, bool drop_signature) {
  std::vector<const QueryParam*> sorted;
  sorted.reserve(params.size());
  for (const auto& p : params)
    if (!(drop_signature && p.key == "X-Amz-Signature")) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const QueryParam* a, const QueryParam* b) {
    if (a->enc_key != b->enc_key) return a->enc_key < b->enc_key;
    return a->enc_value < b->enc_value;
  });
  std::string out;
  for (const QueryParam* p : sorted) {
    if (!out.empty()) out.push_back('&');
    out.append(p->enc_key).push_back('=');
    out.append(p->enc_value);
  }
  return out;
}

// Non-S3: remove empty and dot segments the way botocore's remove_dot_segments does (a
// trailing slash survives), then encode again, keeping '/'.
std::string canonical_uri(std::string_view raw, bool s3) {
  if (raw.empty()) return "/";
  if (s3) return std::string(raw);
  std::vector<std::string_view> segments;
  std::string_view rest = raw;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  std::string normalized;
  normalized.reserve(raw.size());
  if (raw.front() == '/') normalized.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) normalized.push_back('/');
    normalized.append(segments[i]);
  }
  if (raw.back() == '/' && !segments.empty()) normalized.push_back('/');
  std::string out;
  out.reserve(normalized.size() + 16);
  append_encoded(out, normalized, true);
  return out;
}

std::optional<std::string_view> first_header(const SigV4Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

// ---- time -----------------------------------------------------------------------------------

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool valid_date(std::int64_t y, unsigned m, unsigned d) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool parse_digits(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

std::optional<std::int64_t> to_epoch(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s) {
  if (!valid_date(y, mo, d) || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

// "YYYYMMDD'T'HHMMSS'Z'"
std::optional<std::int64_t> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  unsigned y, mo, d, h, mi, se;
  if (!parse_digits(s.substr(0, 4), y) || !parse_digits(s.substr(4, 2), mo) || !parse_digits(s.substr(6, 2), d) ||
      !parse_digits(s.substr(9, 2), h) || !parse_digits(s.substr(11, 2), mi) || !parse_digits(s.substr(13, 2), se))
    return std::nullopt;
  return to_epoch(y, mo, d, h, mi, se);
}

// RFC 7231 IMF-fixdate and RFC 2822 dates: "[Sun, ]06 Nov 1994 08:49:37 GMT|UTC|+0000|-0000".
std::optional<std::int64_t> parse_http_date(std::string_view s) {
  s = trim(s);
  if (size_t comma = s.find(','); comma != std::string_view::npos) s = trim(s.substr(comma + 1));
  std::vector<std::string_view> f;
  while (!s.empty() && f.size() < 6) {
    size_t sp = s.find(' ');
    f.push_back(s.substr(0, sp));
    s = sp == std::string_view::npos ? std::string_view{} : trim(s.substr(sp + 1));
  }
  if (f.size() != 5 || !s.empty()) return std::nullopt;
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  unsigned mo = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (iequals(f[1], kMonths[i])) mo = i + 1;
  unsigned d, y, h, mi, se;
  std::string_view t = f[3];
  if (mo == 0 || f[0].size() > 2 || !parse_digits(f[0], d) || f[2].size() != 4 || !parse_digits(f[2], y) ||
      t.size() != 8 || t[2] != ':' || t[5] != ':' || !parse_digits(t.substr(0, 2), h) ||
      !parse_digits(t.substr(3, 2), mi) || !parse_digits(t.substr(6, 2), se))
    return std::nullopt;
  std::int64_t offset = 0;
  std::string_view zone = f[4];
  if (zone == "GMT" || zone == "UTC" || zone == "UT" || zone == "Z") {
    offset = 0;
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    unsigned zh, zm;
    if (!parse_digits(zone.substr(1, 2), zh) || !parse_digits(zone.substr(3, 2), zm) || zm > 59) return std::nullopt;
    offset = (zone[0] == '+' ? 1 : -1) * static_cast<std::int64_t>(zh * 3600 + zm * 60);
  } else {
    return std::nullopt;
  }
  auto epoch = to_epoch(y, mo, d, h, mi, se);
  if (!epoch) return std::nullopt;
  return *epoch - offset;
}

void append_2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + (v / 10) % 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// iso_basic: "20150830T123600Z"; otherwise "2015-08-30T12:36:00Z" (S3's ServerTime style).
std::string format_time(std::int64_t epoch, bool iso_basic) {
  std::int64_t days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
  std::int64_t secs = epoch - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string out;
  std::string year = std::to_string(y);
  while (year.size() < 4) year.insert(year.begin(), '0');
  out.append(year);
  if (!iso_basic) out.push_back('-');
  append_2(out, m);
  if (!iso_basic) out.push_back('-');
  append_2(out, d);
  out.push_back('T');
  append_2(out, static_cast<unsigned>(secs / 3600));
  if (!iso_basic) out.push_back(':');
  append_2(out, static_cast<unsigned>(secs / 60 % 60));
  if (!iso_basic) out.push_back(':');
  append_2(out, static_cast<unsigned>(secs % 60));
  out.push_back('Z');
  return out;
}

std::int64_t to_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// X-Amz-Date can name any year up to 9999, past what system_clock's nanoseconds can hold
// (year 2262): clamp rather than overflow.
std::chrono::system_clock::time_point from_seconds(std::int64_t s) {
  constexpr std::int64_t kMax =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 1;
  s = std::clamp<std::int64_t>(s, -kMax, kMax);
  return std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds{s})};
}

// "15 min." as Coral writes its window; other windows in seconds.
std::string window_text(std::int64_t seconds) {
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + " min.";
  return std::to_string(seconds) + " sec.";
}

// ---- parsing of the two forms ---------------------------------------------------------------

struct Parsed {
  std::string credential;      // keyid/date/region/service/term
  std::string signature;
  std::string signed_headers;  // as given
  std::string date_text;       // X-Amz-Date (or Date header) as given
  std::optional<std::int64_t> request_epoch;
  std::string session_token;
  std::optional<std::string> expires_text;
};

AuthResult fail(AuthResult r, AuthFailure f, AuthDetail d, std::string message) {
  r.failure = f;
  r.detail = d;
  r.message = std::move(message);
  return r;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s = s.substr(pos + 1);
  }
  return out;
}

struct Credential {
  std::string_view access_key_id, date, region, service, terminator;
};

std::optional<Credential> split_credential(std::string_view credential) {
  auto parts = split(credential, '/');
  if (parts.size() != 5) return std::nullopt;
  return Credential{parts[0], parts[1], parts[2], parts[3], parts[4]};
}

std::string_view auth_param(std::string_view auth, std::string_view name) {
  // Tokens are separated by commas and whitespace, as AWS splits them.
  size_t i = 0;
  std::string_view found;
  while (i < auth.size()) {
    while (i < auth.size() && (auth[i] == ',' || is_space(auth[i]))) ++i;
    size_t start = i;
    while (i < auth.size() && auth[i] != ',' && !is_space(auth[i])) ++i;
    std::string_view token = auth.substr(start, i - start);
    size_t eq = token.find('=');
    if (eq != std::string_view::npos && token.substr(0, eq) == name) found = token.substr(eq + 1);
  }
  return found;
}

}  // namespace

// ---- public helpers -------------------------------------------------------------------------

std::string sha256_hex(std::string_view data) {
  Digest d;
  if (!sha256(data, d)) return {};
  return to_hex(as_view(d));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || sha256_md() == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    throw std::bad_alloc();
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Sha256::finish() {
  Digest d;
  unsigned int len = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, d.data(), &len);
  EVP_DigestInit_ex(ctx, sha256_md(), nullptr);
  return std::string(as_view(d));
}

std::string Sha256::finish_hex() { return to_hex(finish()); }

bool signatures_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(bytes(a), bytes(b), a.size()) == 0;
}

bool content_sha256_matches(std::string_view declared, std::string_view body) {
  if (!is_hex64(declared)) return false;
  return signatures_equal(to_lower(declared), sha256_hex(body));
}

std::string chunk_signature(std::string_view signing_key, std::string_view amz_date,
                            std::string_view credential_scope, std::string_view previous_signature,
                            std::string_view chunk_data) {
  return chunk_signature_from_hash(signing_key, amz_date, credential_scope, previous_signature, sha256_hex(chunk_data));
}

std::string trailer_signature(std::string_view signing_key, std::string_view amz_date, std::string_view credential_scope,
                              std::string_view previous_signature, std::string_view canonical_trailers) {
  std::string sts;
  sts.reserve(256);
  sts.append("AWS4-HMAC-SHA256-TRAILER\n").append(amz_date).push_back('\n');
  sts.append(credential_scope).push_back('\n');
  sts.append(previous_signature).push_back('\n');
  sts.append(sha256_hex(canonical_trailers));
  Digest sig;
  if (!hmac_sha256(signing_key, sts, sig)) return {};
  return to_hex(as_view(sig));
}

std::string chunk_signature_from_hash(std::string_view signing_key, std::string_view amz_date,
                                      std::string_view credential_scope, std::string_view previous_signature,
                                      std::string_view chunk_sha256_hex) {
  std::string sts;
  sts.reserve(256);
  sts.append("AWS4-HMAC-SHA256-PAYLOAD\n").append(amz_date).push_back('\n');
  sts.append(credential_scope).push_back('\n');
  sts.append(previous_signature).push_back('\n');
  sts.append(kEmptySha256).push_back('\n');
  sts.append(chunk_sha256_hex);
  Digest sig;
  if (!hmac_sha256(signing_key, sts, sig)) return {};
  return to_hex(as_view(sig));
}

std::optional<CredentialScope> parse_credential_scope(const SigV4Request& request) {
  std::string credential;
  if (auto auth = first_header(request, "authorization")) {
    std::string_view value = trim(*auth);
    if (!value.starts_with(kAlgorithm)) return std::nullopt;
    credential = std::string(auth_param(value.substr(kAlgorithm.size()), "Credential"));
  } else {
    auto params = parse_query(request.raw_query);
    const QueryParam* p = find_param(params, "X-Amz-Credential");
    if (p == nullptr) return std::nullopt;
    credential = p->value;
  }
  auto c = split_credential(credential);
  if (!c || c->terminator != kTerminator) return std::nullopt;
  return CredentialScope{std::string(c->access_key_id), std::string(c->date), std::string(c->region),
                         std::string(c->service)};
}

// ---- verification ---------------------------------------------------------------------------

AuthResult verify_sigv4(const SigV4Request& req, const SecretLookup& lookup,
                        std::chrono::system_clock::time_point now) {
  AuthResult r;
  r.server_time = now;
  const std::int64_t now_s = to_seconds(now);
  const bool s3 = req.s3_style_path;

  const auto auth_header = first_header(req, "authorization");
  const std::vector<QueryParam> query = parse_query(req.raw_query);
  const QueryParam* q_alg = find_param(query, "X-Amz-Algorithm");
  const bool query_auth =
      q_alg != nullptr || find_param(query, "X-Amz-Credential") != nullptr || find_param(query, "X-Amz-Signature") != nullptr;

  if (auth_header && query_auth)
    return fail(std::move(r), AuthFailure::MalformedAuthorization, AuthDetail::BothAuthMechanisms,
                std::string(kMsgSignatureMismatch));
  if (!auth_header && !query_auth) {
    // A SigV2 presigned S3 URL (AWSAccessKeyId/Signature/Expires, what boto3 still generates
    // unless signature_version='s3v4'): refused the way S3 regions without SigV2 refuse it.
    if (s3 && find_param(query, "AWSAccessKeyId") != nullptr && find_param(query, "Signature") != nullptr)
      return fail(std::move(r), AuthFailure::UnsupportedAlgorithm, AuthDetail::SigV2,
                  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
    return fail(std::move(r), AuthFailure::MissingAuthentication, AuthDetail::None, "Missing Authentication Token");
  }

  Parsed p;
  r.presigned = query_auth;
  std::string auth_value;  // trimmed Authorization header
  if (auth_header) {
    // ---- header form
    auth_value = std::string(trim(*auth_header));
    std::string_view value = auth_value;
    size_t sp = 0;
    while (sp < value.size() && !is_space(value[sp])) ++sp;
    std::string_view algorithm = value.substr(0, sp);
    if (algorithm != kAlgorithm)
      return fail(std::move(r), AuthFailure::UnsupportedAlgorithm,
                  algorithm == "AWS" ? AuthDetail::SigV2 : AuthDetail::None,
                  "Unsupported AWS 'algorithm': '" + std::string(algorithm) + "'.");
    std::string_view params = value.substr(sp);
    bool have_cred = false, have_sig = false, have_signed = false;
    size_t i = 0;
    while (i < params.size()) {
      while (i < params.size() && (params[i] == ',' || is_space(params[i]))) ++i;
      size_t start = i;
      while (i < params.size() && params[i] != ',' && !is_space(params[i])) ++i;
      std::string_view token = params.substr(start, i - start);
      if (token.empty()) continue;
      size_t eq = token.find('=');
      if (eq == std::string_view::npos)
        return fail(std::move(r), AuthFailure::IncompleteSignature, AuthDetail::ParameterWithoutEquals,
                    "'" + std::string(token) + "' not a valid key=value pair (missing equal-sign) in Authorization header: '" +
                        auth_value + "'.");
      std::string_view k = token.substr(0, eq), v = token.substr(eq + 1);
      if (k == "Credential") {
        p.credential = std::string(v);
        have_cred = true;
      } else if (k == "Signature") {
        p.signature = std::string(v);
        have_sig = true;
      } else if (k == "SignedHeaders") {
        p.signed_headers = std::string(v);
        have_signed = true;
      }
    }
    std::string missing;
    auto add_missing = [&](std::string_view m) {
      if (!missing.empty()) missing.push_back(' ');
      missing.append(m);
    };
    if (!have_cred) add_missing("Authorization header requires 'Credential' parameter.");
    if (!have_sig) add_missing("Authorization header requires 'Signature' parameter.");
    if (!have_signed) add_missing("Authorization header requires 'SignedHeaders' parameter.");
    const auto x_amz_date = first_header(req, "x-amz-date");
    std::optional<std::string_view> date;
    if (!x_amz_date) date = first_header(req, "date");
    if (!x_amz_date && !date)
      add_missing("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    if (!missing.empty()) {
      bool only_date = have_cred && have_sig && have_signed;
      return fail(std::move(r), AuthFailure::IncompleteSignature,
                  only_date ? AuthDetail::MissingDate : AuthDetail::MissingHeaderParts,
                  missing + " Authorization=" + auth_value);
    }
    if (x_amz_date) {
      p.date_text = std::string(trim(*x_amz_date));
      p.request_epoch = parse_amz_date(p.date_text);
    } else {
      p.date_text = std::string(trim(*date));
      p.request_epoch = parse_http_date(p.date_text);
    }
    if (auto token = first_header(req, "x-amz-security-token")) p.session_token = std::string(trim(*token));
  } else {
    // ---- presigned query form
    if (q_alg == nullptr) {
      return fail(std::move(r), AuthFailure::IncompleteSignature, AuthDetail::MissingQueryParts,
                  "AWS query-string parameters must include 'X-Amz-Algorithm'. Re-examine the query-string parameters.");
    }
    if (q_alg->value != kAlgorithm)
      return fail(std::move(r), AuthFailure::UnsupportedAlgorithm, AuthDetail::QueryAlgorithm,
                  "Missing Authentication Token");
    const QueryParam* cred = find_param(query, "X-Amz-Credential");
    const QueryParam* sig = find_param(query, "X-Amz-Signature");
    const QueryParam* signed_headers = find_param(query, "X-Amz-SignedHeaders");
    const QueryParam* date = find_param(query, "X-Amz-Date");
    const QueryParam* expires = find_param(query, "X-Amz-Expires");
    std::string missing;
    auto add_missing = [&](std::string_view name) {
      missing.append("AWS query-string parameters must include '").append(name).append("'. ");
    };
    if (!cred) add_missing("X-Amz-Credential");
    if (!sig) add_missing("X-Amz-Signature");
    if (!signed_headers) add_missing("X-Amz-SignedHeaders");
    if (!date) add_missing("X-Amz-Date");
    if (!expires && s3) add_missing("X-Amz-Expires");
    if (!missing.empty())
      return fail(std::move(r), AuthFailure::IncompleteSignature, AuthDetail::MissingQueryParts,
                  missing + "Re-examine the query-string parameters.");
    p.credential = cred->value;
    p.signature = sig->value;
    p.signed_headers = signed_headers->value;
    p.date_text = date->value;
    p.request_epoch = parse_amz_date(p.date_text);
    if (expires) p.expires_text = expires->value;
    if (const QueryParam* token = find_param(query, "X-Amz-Security-Token")) p.session_token = token->value;
  }

  // ---- credential scope and date
  r.session_token = p.session_token;
  r.seed_signature = p.signature;
  auto cred = split_credential(p.credential);
  if (cred) {
    r.access_key_id = std::string(cred->access_key_id);
    r.region = std::string(cred->region);
    r.service = std::string(cred->service);
    r.credential_scope = p.credential.substr(cred->access_key_id.size() + 1);
  } else {
    r.access_key_id = std::string(p.credential.substr(0, p.credential.find('/')));
  }
  if (!p.request_epoch) {
    r.amz_date = p.date_text;
    return fail(std::move(r), AuthFailure::IncompleteSignature, AuthDetail::MalformedDate,
                "Date must be in ISO-8601 'basic format'. Got '" + p.date_text +
                    "'. See http://en.wikipedia.org/wiki/ISO_8601");
  }
  const std::int64_t req_s = *p.request_epoch;
  r.amz_date = format_time(req_s, true);
  r.request_time = from_seconds(req_s);
  if (!cred)
    return fail(std::move(r), AuthFailure::IncompleteSignature, AuthDetail::MalformedCredential,
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
                    p.credential + "'");

  // Presigned lifetime.
  std::int64_t expires = s3 ? 0 : kDefaultPresignWindow;
  if (p.expires_text) {
    const std::string& e = *p.expires_text;
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(e.data(), e.data() + e.size(), v);
    if (e.empty() || ec != std::errc{} || ptr != e.data() + e.size())
      return fail(std::move(r), AuthFailure::MalformedAuthorization, AuthDetail::ExpiresNotANumber,
                  "X-Amz-Expires should be a number");
    if (v < 0)
      return fail(std::move(r), AuthFailure::MalformedAuthorization, AuthDetail::ExpiresNegative,
                  "X-Amz-Expires must be non-negative");
    if (v > kMaxExpires)
      return fail(std::move(r), AuthFailure::MalformedAuthorization, AuthDetail::ExpiresTooLarge,
                  "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
                  "less than 604800 seconds");
    expires = v;
    r.expires_seconds = v;
  }

  // Scope checks (Coral reports these as signature mismatches).
  if (cred->terminator != kTerminator)
    return fail(std::move(r), AuthFailure::SignatureMismatch, AuthDetail::CredentialTerminator,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                    std::string(cred->terminator) + "'.");
  if (cred->date != std::string_view(r.amz_date).substr(0, 8))
    return fail(std::move(r), AuthFailure::SignatureMismatch, AuthDetail::CredentialDateMismatch,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
                    std::string(cred->date) + "' != '" + r.amz_date.substr(0, 8) + "', from '" + r.amz_date + "'.");

  // ---- time window
  if (req_s > now_s + kSkewSeconds) {
    std::string msg = "Signature not yet current: " + r.amz_date + " is still later than " +
                      format_time(now_s + kSkewSeconds, true) + " (" + format_time(now_s, true) + " + 15 min.)";
    const AuthFailure f = r.presigned ? AuthFailure::PresignedNotYetValid : AuthFailure::RequestExpired;
    return fail(std::move(r), f, AuthDetail::None, std::move(msg));
  }
  if (!r.presigned && req_s < now_s - kSkewSeconds) {
    std::string msg = "Signature expired: " + r.amz_date + " is now earlier than " +
                      format_time(now_s - kSkewSeconds, true) + " (" + format_time(now_s, true) + " - 15 min.)";
    return fail(std::move(r), AuthFailure::RequestExpired, AuthDetail::None, std::move(msg));
  }
  if (r.presigned && now_s > req_s + expires) {
    std::string msg = "Signature expired: " + r.amz_date + " is now earlier than " +
                      format_time(now_s - expires, true) + " (" + format_time(now_s, true) + " - " +
                      window_text(expires) + ")";
    return fail(std::move(r), AuthFailure::PresignedExpired, AuthDetail::None, std::move(msg));
  }

  // ---- signed headers
  std::vector<std::string> signed_names;
  for (std::string_view name : split(p.signed_headers, ';'))
    if (!name.empty()) signed_names.push_back(to_lower(name));
  std::sort(signed_names.begin(), signed_names.end());
  if (!std::binary_search(signed_names.begin(), signed_names.end(), std::string("host")) &&
      !std::binary_search(signed_names.begin(), signed_names.end(), std::string(":authority")))
    return fail(std::move(r), AuthFailure::SignatureMismatch, AuthDetail::HostNotSigned,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  if (s3) {
    // S3 refuses x-amz-* headers the signature does not cover.
    for (const auto& [name, value] : req.headers) {
      if (!istarts_with(name, "x-amz-")) continue;
      std::string lname = to_lower(name);
      if (!std::binary_search(signed_names.begin(), signed_names.end(), lname))
        r.unsigned_headers.push_back(std::move(lname));
    }
    std::sort(r.unsigned_headers.begin(), r.unsigned_headers.end());
    r.unsigned_headers.erase(std::unique(r.unsigned_headers.begin(), r.unsigned_headers.end()),
                             r.unsigned_headers.end());
    if (!r.unsigned_headers.empty())
      return fail(std::move(r), AuthFailure::HeadersNotSigned, AuthDetail::None,
                  "There were headers present in the request which were not signed");
  }

  // ---- payload hash
  std::string payload_hash;
  std::optional<std::string_view> declared = first_header(req, "x-amz-content-sha256");
  if (!declared && r.presigned) {
    if (const QueryParam* q = find_param(query, "X-Amz-Content-Sha256")) declared = q->value;
    else if (const QueryParam* q2 = find_param(query, "X-Amz-Content-SHA256")) declared = q2->value;
  }
  if (declared) {
    r.content_sha256 = std::string(trim(*declared));
    payload_hash = r.content_sha256;
    if (is_hex64(payload_hash)) r.payload_kind = PayloadKind::Hashed;
    else if (payload_hash == kUnsignedPayload) r.payload_kind = PayloadKind::Unsigned;
    else if (payload_hash == kStreamingSigned) r.payload_kind = PayloadKind::StreamingSigned;
    else if (payload_hash == kStreamingSignedTrailer) r.payload_kind = PayloadKind::StreamingSignedTrailer;
    else if (payload_hash == kStreamingUnsignedTrailer) r.payload_kind = PayloadKind::StreamingUnsignedTrailer;
    else r.payload_kind = PayloadKind::Other;
    if (r.payload_kind == PayloadKind::StreamingSignedTrailer || r.payload_kind == PayloadKind::StreamingUnsignedTrailer)
      if (auto trailer = first_header(req, "x-amz-trailer")) r.trailer = to_lower(std::string(trim(*trailer)));
    if (s3 && r.payload_kind == PayloadKind::Other)
      return fail(std::move(r), AuthFailure::InvalidContentSha256, AuthDetail::None,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                  "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
                  "or a valid sha256 value.");
  } else if (r.presigned && s3) {
    payload_hash = kUnsignedPayload;
    r.payload_kind = PayloadKind::Unsigned;
  } else if (s3) {
    return fail(std::move(r), AuthFailure::MissingContentSha256, AuthDetail::None,
                "Missing required header for this request: x-amz-content-sha256");
  } else {
    payload_hash = sha256_hex(req.body);
    r.payload_kind = PayloadKind::Hashed;
  }

  // ---- secret
  std::optional<std::string> secret = lookup ? lookup(r.access_key_id) : std::nullopt;
  if (!secret)
    return fail(std::move(r), AuthFailure::UnknownAccessKey, AuthDetail::None,
                "The security token included in the request is invalid.");

  // ---- canonical request and string to sign
  std::string canonical;
  canonical.reserve(512 + req.raw_path.size() + req.raw_query.size());
  canonical.append(req.method).push_back('\n');
  canonical.append(canonical_uri(req.raw_path, s3)).push_back('\n');
  canonical.append(canonical_query(query, r.presigned)).push_back('\n');
  {
    // Headers by lowercase name, arrival order kept for repeated names (stable sort), so each
    // signed name is a binary search rather than a scan of every header.
    std::vector<std::pair<std::string, std::string_view>> by_name;
    by_name.reserve(req.headers.size());
    for (const auto& [k, v] : req.headers) by_name.emplace_back(to_lower(k), v);
    std::stable_sort(by_name.begin(), by_name.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t n = 0; n < signed_names.size(); ++n) {
      const std::string& name = signed_names[n];
      if (n && name == signed_names[n - 1]) continue;  // "host;host" lists one header once
      auto [lo, hi] = std::equal_range(by_name.begin(), by_name.end(), std::make_pair(name, std::string_view{}),
                                       [](const auto& a, const auto& b) { return a.first < b.first; });
      if (lo == hi) continue;
      canonical.append(name).push_back(':');
      for (auto it = lo; it != hi; ++it) {
        if (it != lo) canonical.push_back(',');
        append_trimall(canonical, it->second);
      }
      canonical.push_back('\n');
    }
  }
  canonical.push_back('\n');
  for (size_t i = 0; i < signed_names.size(); ++i) {
    if (i) canonical.push_back(';');
    canonical.append(signed_names[i]);
  }
  canonical.push_back('\n');
  canonical.append(payload_hash);

  std::string sts;
  sts.reserve(kAlgorithm.size() + 20 + r.credential_scope.size() + 66);
  sts.append(kAlgorithm).push_back('\n');
  sts.append(r.amz_date).push_back('\n');
  sts.append(r.credential_scope).push_back('\n');
  sts.append(sha256_hex(canonical));

  Digest key, sig;
  bool crypto_ok = signing_key_cache().get(*secret, cred->date, cred->region, cred->service, key) &&
                   hmac_sha256(as_view(key), sts, sig);
  OPENSSL_cleanse(secret->data(), secret->size());
  const std::string expected = crypto_ok ? to_hex(as_view(sig)) : std::string{};
  if (!crypto_ok || !signatures_equal(expected, p.signature)) {
    r.canonical_request = std::move(canonical);
    r.string_to_sign = std::move(sts);
    return fail(std::move(r), AuthFailure::SignatureMismatch, AuthDetail::None, std::string(kMsgSignatureMismatch));
  }

  // ---- declared body hash against the body (after the signature, as S3 orders it)
  if (req.body_complete && r.payload_kind == PayloadKind::Hashed && declared &&
      !content_sha256_matches(r.content_sha256, req.body))
    return fail(std::move(r), AuthFailure::ContentSha256Mismatch, AuthDetail::None,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");

  if (r.payload_kind == PayloadKind::StreamingSigned || r.payload_kind == PayloadKind::StreamingSignedTrailer)
    r.signing_key = std::string(as_view(key));
  OPENSSL_cleanse(key.data(), key.size());
  return r;
}

// ---- error mapping --------------------------------------------------------------------------
//
// Sources (third-party reports of real AWS responses, and AWS SDK / emulator code):
//  JSON (Coral awsJson / rest-json):
//   UnrecognizedClientException 400 "The security token included in the request is invalid."
//     (CloudWatch Logs, Cognito responses quoted in issues)
//   InvalidSignatureException 400 mismatch / "Signature expired: ..." / "Signature not yet
//     current: ..." (aws-sdk-js#254, kinesis, rekognition reports)
//   IncompleteSignatureException 400 (cloud9, dynamodb reports)
//   MissingAuthenticationTokenException 400 "Missing Authentication Token" (Cognito; DynamoDB
//     words it "Request is missing Authentication Token")
//  Query (awsQuery XML): same messages; InvalidClientTokenId 403, SignatureDoesNotMatch 403 for
//   mismatch and skew (SQS, SNS, STS reports), IncompleteSignature 400 (SES),
//   MissingAuthenticationToken 403 "Request is missing Authentication Token" (STS).
//  S3: InvalidAccessKeyId 403, SignatureDoesNotMatch 403, RequestTimeTooSkewed 403, AccessDenied
//   403 "Request has expired" / "Request is not yet valid" / "AWS authentication requires a
//   valid Date or x-amz-date header" / "There were headers present in the request which were
//   not signed", AuthorizationHeaderMalformed 400, AuthorizationQueryParametersError 400,
//   InvalidArgument 400 "Unsupported Authorization Type", InvalidRequest 400.
AwsAuthError aws_error_for(const AuthResult& r, ProtocolFamily family) {
  if (r.failure == AuthFailure::None) return {};
  const bool json = family == ProtocolFamily::Json;
  const std::string server_time = format_time(to_seconds(r.server_time), false);

  if (family != ProtocolFamily::S3) {
    const std::string invalid_signature = json ? "InvalidSignatureException" : "SignatureDoesNotMatch";
    const int invalid_signature_status = json ? 400 : 403;
    const std::string incomplete = json ? "IncompleteSignatureException" : "IncompleteSignature";
    switch (r.failure) {
      case AuthFailure::MissingAuthentication:
        if (json) return {"MissingAuthenticationTokenException", 400, "Missing Authentication Token", {}};
        return {"MissingAuthenticationToken", 403, "Request is missing Authentication Token", {}};
      case AuthFailure::UnsupportedAlgorithm:
        if (r.detail == AuthDetail::QueryAlgorithm) {
          if (json) return {"MissingAuthenticationTokenException", 400, "Missing Authentication Token", {}};
          return {"MissingAuthenticationToken", 403, "Request is missing Authentication Token", {}};
        }
        return {incomplete, 400, r.message, {}};
      case AuthFailure::UnknownAccessKey:
        return {json ? "UnrecognizedClientException" : "InvalidClientTokenId", json ? 400 : 403,
                "The security token included in the request is invalid.", {}};
      case AuthFailure::IncompleteSignature:
        return {incomplete, 400, r.message, {}};
      case AuthFailure::MalformedAuthorization:
        if (r.detail == AuthDetail::BothAuthMechanisms)
          return {invalid_signature, invalid_signature_status, r.message, {}};
        return {incomplete, 400, r.message, {}};
      case AuthFailure::ContentSha256Mismatch:
      case AuthFailure::HeadersNotSigned:
      case AuthFailure::MissingContentSha256:
      case AuthFailure::InvalidContentSha256:
        return {invalid_signature, invalid_signature_status, std::string(kMsgSignatureMismatch), {}};
      case AuthFailure::SignatureMismatch:
      case AuthFailure::RequestExpired:
      case AuthFailure::PresignedExpired:
      case AuthFailure::PresignedNotYetValid:
      case AuthFailure::None:
        break;
    }
    return {invalid_signature, invalid_signature_status, r.message, {}};
  }

  // S3
  const std::string scope_date = r.credential_scope.substr(0, 8);
  switch (r.failure) {
    case AuthFailure::MissingAuthentication:
      return {"AccessDenied", 403, "Access Denied", {}};
    case AuthFailure::UnknownAccessKey:
      return {"InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.",
              {{"AWSAccessKeyId", r.access_key_id}}};
    case AuthFailure::UnsupportedAlgorithm:
      if (r.detail == AuthDetail::QueryAlgorithm)
        return {"AuthorizationQueryParametersError", 400, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"", {}};
      if (r.detail == AuthDetail::SigV2)
        return {"InvalidRequest", 400,
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", {}};
      return {"InvalidArgument", 400, "Unsupported Authorization Type", {{"ArgumentName", "Authorization"}}};
    case AuthFailure::HeadersNotSigned: {
      std::string list;
      for (const auto& h : r.unsigned_headers) list += (list.empty() ? "" : ", ") + h;
      return {"AccessDenied", 403, r.message, {{"HeadersNotSigned", list}}};
    }
    case AuthFailure::MissingContentSha256:
      return {"InvalidRequest", 400, r.message, {}};
    case AuthFailure::InvalidContentSha256:
      return {"InvalidArgument", 400, r.message,
              {{"ArgumentName", "x-amz-content-sha256"}, {"ArgumentValue", r.content_sha256}}};
    case AuthFailure::ContentSha256Mismatch:
      return {"XAmzContentSHA256Mismatch", 400, r.message, {{"ClientComputedContentSHA256", r.content_sha256}}};
    case AuthFailure::RequestExpired:
      return {"RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.",
              {{"RequestTime", r.amz_date}, {"ServerTime", server_time}, {"MaxAllowedSkewMilliseconds", "900000"}}};
    case AuthFailure::PresignedExpired:
      return {"AccessDenied", 403, "Request has expired",
              {{"X-Amz-Expires", std::to_string(r.expires_seconds)},
               {"Expires", format_time(to_seconds(r.request_time) + r.expires_seconds, false)},
               {"ServerTime", server_time}}};
    case AuthFailure::PresignedNotYetValid:
      return {"AccessDenied", 403, "Request is not yet valid",
              {{"X-Amz-Date", std::to_string(to_seconds(r.request_time) * 1000)},
               {"Expires", format_time(to_seconds(r.request_time) + r.expires_seconds, false)},
               {"ServerTime", server_time}}};
    case AuthFailure::MalformedAuthorization:
      switch (r.detail) {
        case AuthDetail::BothAuthMechanisms:
          return {"InvalidArgument", 400,
                  "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
                  "parameter or the Authorization header should be specified",
                  {{"ArgumentName", "Authorization"}}};
        default:  // X-Amz-Expires problems (presigned only)
          return {"AuthorizationQueryParametersError", 400, r.message, {}};
      }
    case AuthFailure::IncompleteSignature:
      if (r.presigned) {
        switch (r.detail) {
          case AuthDetail::MalformedDate:
            return {"AuthorizationQueryParametersError", 400,
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", {}};
          case AuthDetail::MalformedCredential:
            return {"AuthorizationQueryParametersError", 400,
                    "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
                    "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", {}};
          default:
            return {"AuthorizationQueryParametersError", 400,
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", {}};
        }
      }
      switch (r.detail) {
        case AuthDetail::MissingDate:
        case AuthDetail::MalformedDate:
          return {"AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header", {}};
        case AuthDetail::MalformedCredential:
          return {"AuthorizationHeaderMalformed", 400,
                  "The authorization header is malformed; the Credential is mal-formed; expecting "
                  "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", {}};
        default:
          return {"AuthorizationHeaderMalformed", 400,
                  "The authorization header is malformed; the authorization header requires three components: "
                  "Credential, SignedHeaders, and Signature.", {}};
      }
    case AuthFailure::SignatureMismatch:
      switch (r.detail) {
        case AuthDetail::CredentialDateMismatch: {
          std::string msg = "Invalid credential date \"" + scope_date + "\". This date is not the same as X-Amz-Date: \"" +
                            r.amz_date.substr(0, 8) + "\".";
          if (r.presigned) return {"AuthorizationQueryParametersError", 400, msg, {}};
          return {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed; " + msg, {}};
        }
        case AuthDetail::CredentialTerminator: {
          std::string term = r.credential_scope.substr(r.credential_scope.rfind('/') + 1);
          std::string msg = "incorrect terminal \"" + term + "\". This endpoint uses \"aws4_request\".";
          if (r.presigned) return {"AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter; " + msg, {}};
          return {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed; " + msg, {}};
        }
        default: {
          AwsAuthError e{"SignatureDoesNotMatch", 403,
                         "The request signature we calculated does not match the signature you provided. Check your "
                         "key and signing method.",
                         {{"AWSAccessKeyId", r.access_key_id}}};
          if (!r.string_to_sign.empty()) {
            e.extra.emplace_back("StringToSign", r.string_to_sign);
            e.extra.emplace_back("SignatureProvided", r.seed_signature);
            e.extra.emplace_back("CanonicalRequest", r.canonical_request);
          }
          return e;
        }
      }
    case AuthFailure::None:
      break;
  }
  return {};
}

}  // namespace vigil::auth
