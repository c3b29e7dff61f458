#include "services/cloudtrail/log_validator.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <regex>
#include <tuple>

#include "core/encoding.h"
#include "core/value.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/signing_keys.h"

namespace vigil::cloudtrail {

namespace {

constexpr double kMinute = 60, kHour = 3600;


std::tm utc_tm(double seconds) {
  std::time_t t = static_cast<std::time_t>(std::floor(seconds));
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string strftime_utc(double seconds, const char* format) {
  std::tm tm = utc_tm(seconds);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::string key_date(double seconds) { return strftime_utc(seconds, "%Y%m%dT%H%M%SZ"); }

bool is_backfill_key(std::string_view key) {
  constexpr std::string_view suffix = "_backfill.json.gz";
  return key.size() >= suffix.size() && key.substr(key.size() - suffix.size()) == suffix;
}

// Python's key[-24:-8] (or [-33:-17] for backfill keys).
std::string extract_key_date(std::string_view key) {
  size_t from_end = is_backfill_key(key) ? 33 : 24, to_end = is_backfill_key(key) ? 17 : 8;
  if (key.size() < to_end) return std::string();
  size_t begin = key.size() > from_end ? key.size() - from_end : 0;
  return std::string(key.substr(begin, key.size() - to_end - begin));
}

std::string regex_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

double parse_or_abort(std::string_view text, bool utc = false) {
  auto t = parse_time(text);
  if (!t) throw ValidationAbort("Unable to parse date value: " + std::string(text));
  return utc ? t->utc : t->wall;
}

// zlib.decompress(data, MAX_WBITS | 16): the first gzip member, which must be complete.
std::optional<std::string> gunzip_strict(std::string_view data, bool lenient) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) {
      rc = Z_BUF_ERROR;  // input exhausted before the end of the member
      break;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  if (rc == Z_STREAM_END) return out;
  // zlib.decompressobj (how the CLI reads log files) keeps what a truncated member gave.
  if (lenient && rc == Z_BUF_ERROR) return out;
  return std::nullopt;
}

// Python's str() of a JSON value inside an f-string.
std::string py_text(const Value* v) {
  if (!v || v->is_null()) return "None";
  if (v->is_string()) return v->as_string();
  if (v->kind() == Value::Kind::Bool) return v->as_bool() ? "True" : "False";
  return protocol::value_to_json(*v, nullptr, true);
}

// The string a digest field holds, nullopt for null/absent (Python's dict.get -> None).
std::optional<std::string> opt_string(const Value& digest, std::string_view key) {
  const Value* v = digest.get(key);
  if (!v || v->is_null()) return std::nullopt;
  return py_text(v);
}

// Python's binascii.unhexlify.
std::string unhexlify(std::string_view hex) {
  if (hex.size() % 2) throw std::runtime_error("Odd-length string");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) throw std::runtime_error("Non-hexadecimal digit found");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// Python's base64.b64decode(text) (validate=False: characters outside the alphabet dropped).
std::optional<std::string> lenient_base64(std::string_view text) {
  std::string clean;
  for (char c : text)
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=') clean += c;
  return base64_decode(clean);
}

struct EvpKeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

struct DigestOutcome {
  enum Kind { Valid, Missing, Invalid } kind = Invalid;
  Value digest;
  double end = 0;
  std::string message;
};

class Run {
 public:
  Run(ValidationSource& source, const ValidateOptions& options, std::ostream& out, std::ostream& err)
      : source_(source), options_(options), out_(out), err_(err) {}

  int run();

 private:
  struct Listing {
    std::vector<std::string> standard, backfill;
  };
  using PublicKeys = std::map<std::string, PublicKeyEntry>;

  std::vector<std::string>& load_digests(const std::string& bucket, double start, double end, bool backfill);
  PublicKeys load_public_keys(double start, double end);
  void traverse(bool backfill);
  DigestOutcome load_and_validate(PublicKeys& keys, const std::string& bucket, const std::string& key, bool backfill);
  std::pair<std::optional<std::string>, double> last_digest(std::vector<std::string>& digests, const std::string* before);
  void on_valid_digest(const Value& digest, bool backfill);
  void download_log(const Value& log);
  void status(const std::string& message, bool is_error);
  void summary();
  void ratio(int valid, int invalid, const char* name);

  ValidationSource& source_;
  const ValidateOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  std::string account_, name_, home_, source_region_, bucket_, prefix_;
  double start_ = 0, end_ = 0;
  std::map<std::tuple<std::string, std::string, double, double>, Listing> listings_;
  int valid_digests_ = 0, invalid_digests_ = 0, valid_backfill_ = 0, invalid_backfill_ = 0, valid_logs_ = 0, invalid_logs_ = 0;
  bool last_double_space_ = true;
  std::optional<double> found_start_, found_end_;
};

void Run::status(const std::string& message, bool is_error) {
  if (is_error) {
    if (!last_double_space_) err_ << '\n';
    err_ << message << "\n\n";
    err_.flush();
    last_double_space_ = true;
  } else if (options_.verbose) {
    last_double_space_ = false;
    out_ << message << '\n';
  }
}

std::vector<std::string>& Run::load_digests(const std::string& bucket, double start, double end, bool backfill) {
  auto cache_key = std::make_tuple(bucket, prefix_, start, end);
  auto it = listings_.find(cache_key);
  if (it == listings_.end()) {
    Listing listing;
    std::string base = prefix_.empty() ? std::string() : prefix_ + "/";
    double marker_time = start - kMinute;
    std::string marker = base + "AWSLogs/" + account_ + "/CloudTrail-Digest/" + source_region_ + "/" + strftime_utc(marker_time, "%Y/%m/%d") + "/" +
                         account_ + "_CloudTrail-Digest_" + source_region_ + "_" + name_ + "_" + home_ + "_" + key_date(marker_time) + ".json.gz";
    std::string list_prefix = base + "AWSLogs/" + account_ + "/CloudTrail-Digest/" + source_region_;
    std::string pattern = "^" + (prefix_.empty() ? std::string() : regex_escape(prefix_) + "/") + "AWSLogs/" + regex_escape(account_) +
                          "/CloudTrail\\-Digest/" + regex_escape(source_region_) + "/\\d+/\\d+/\\d+/" + regex_escape(account_) +
                          "_CloudTrail\\-Digest_" + regex_escape(source_region_) + "_" + regex_escape(name_) + "_" + regex_escape(home_) +
                          "_.+(?:_backfill)?\\.json\\.gz$";
    std::regex re(pattern);
    std::string target_start = key_date(start), target_end = key_date(end + kHour);
    source_.list_keys(bucket, list_prefix, marker, [&](const std::string& key) {
      if (key.empty() || !std::regex_match(key, re)) return true;
      std::string date = extract_key_date(key);
      if (date > target_end) return false;
      if (date < target_start) return true;
      (is_backfill_key(key) ? listing.backfill : listing.standard).push_back(key);
      return true;
    });
    it = listings_.emplace(cache_key, std::move(listing)).first;
  }
  return backfill ? it->second.backfill : it->second.standard;
}

Run::PublicKeys Run::load_public_keys(double start, double end) {
  PublicKeys keys;
  for (auto& k : source_.list_public_keys(start, end)) keys[k.fingerprint] = k;
  if (keys.empty())
    throw ValidationAbort("No public keys found between " + format_display_time(start) + " and " + format_display_time(end));
  return keys;
}

// The CLI's _get_last_digest: pops the newest key, or the newest one older than `before`.
std::pair<std::optional<std::string>, double> Run::last_digest(std::vector<std::string>& digests, const std::string* before) {
  if (digests.empty()) return {std::nullopt, 0};
  if (!before) {
    std::string key = digests.back();
    digests.pop_back();
    return {key, parse_or_abort(extract_key_date(key))};
  }
  double before_date = parse_or_abort(extract_key_date(*before));
  while (!digests.empty()) {
    std::string key = digests.back();
    digests.pop_back();
    double date = parse_or_abort(extract_key_date(key));
    if (date < before_date) return {key, date};
  }
  return {std::nullopt, 0};
}

DigestOutcome Run::load_and_validate(PublicKeys& keys, const std::string& bucket, const std::string& key, bool backfill) {
  DigestOutcome result;
  std::string where = "Digest file\ts3://" + bucket + "/" + key + "\tINVALID: ";
  auto invalid = [&](const std::string& what) {
    result.kind = DigestOutcome::Invalid;
    result.message = where + what;
    return result;
  };
  auto object = source_.get_object(bucket, key);
  if (!object) {
    result.kind = DigestOutcome::Missing;
    return result;
  }
  auto inflated = gunzip_strict(object->body, false);
  if (!inflated) return invalid("invalid format");
  Value digest;
  try {
    digest = protocol::json_to_value(*inflated, nullptr);
  } catch (const std::exception&) {
    return invalid("invalid format");
  }
  if (!digest.is_map()) return invalid("invalid format");
  auto meta = [&](std::string_view name) -> const std::string* {
    for (const auto& entry : object->metadata)
      if (entry.first == name) return &entry.second;
    return nullptr;
  };
  const std::string* signature = meta("signature");
  if (!signature || !meta("signature-algorithm")) return invalid("signature verification failed");
  const std::string* backfill_time = nullptr;
  if (backfill) {
    backfill_time = meta("backfill-generation-timestamp");
    if (!backfill_time) return invalid("invalid format");
  }
  for (const char* required : {"digestPublicKeyFingerprint", "digestS3Bucket", "digestS3Object", "previousDigestSignature", "digestEndTime", "digestStartTime"})
    if (!digest.has(required)) return invalid("invalid format");
  const Value* digest_bucket = digest.get("digestS3Bucket");
  const Value* digest_object = digest.get("digestS3Object");
  if (!digest_bucket->is_string() || digest_bucket->as_string() != bucket || !digest_object->is_string() || digest_object->as_string() != key)
    return invalid("has been moved from its original location");
  std::string fingerprint = py_text(digest.get("digestPublicKeyFingerprint"));
  try {
    if (!keys.count(fingerprint) && backfill) {
      double at = parse_or_abort(*backfill_time);
      for (auto& k : load_public_keys(at - kHour, at + kHour)) keys[k.first] = k.second;
    }
    if (!keys.count(fingerprint)) return invalid("public key not found in region " + home_ + " for fingerprint " + fingerprint);
    auto der = lenient_base64(keys[fingerprint].value);
    if (!der) return invalid("Incorrect padding");
    {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
      std::unique_ptr<EVP_PKEY, EvpKeyFree> pkey(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der->size())));
      if (!pkey) return invalid("Unable to load PKCS #1 key with fingerprint " + fingerprint);
    }
    const Value* previous = digest.get("previousDigestSignature");
    std::string to_sign = py_text(digest.get("digestEndTime")) + "\n" + digest_bucket->as_string() + "/" + digest_object->as_string() + "\n" +
                          sha256_hex(*inflated) + "\n" + (previous->is_null() ? std::string("null") : py_text(previous));
    std::string signature_bytes = unhexlify(*signature);
    if (!rsa_pkcs1_verify(*der, to_sign, signature_bytes)) return invalid("signature verification failed");
    result.end = parse_or_abort(py_text(digest.get("digestEndTime")));
  } catch (const std::exception& e) {  // the CLI's "any other error" branch
    return invalid(e.what());
  }
  result.kind = DigestOutcome::Valid;
  result.digest = std::move(digest);
  return result;
}

void Run::traverse(bool backfill) {
  const std::string tag = backfill ? "(backfill) " : "";
  std::string bucket = bucket_;
  std::vector<std::string>* digests = &load_digests(bucket, start_, end_, backfill);
  PublicKeys keys = backfill ? PublicKeys() : load_public_keys(start_, end_ + 2 * kHour);

  auto [first_key, first_date] = last_digest(*digests, nullptr);
  std::optional<std::string> key = first_key;
  double last_start = first_date;
  auto find_next = [&](const std::string& last) {
    auto next = last_digest(*digests, &last);
    key = next.first;
    return next;
  };
  while (key && start_ <= last_start) {
    std::string current = *key;
    DigestOutcome outcome = load_and_validate(keys, bucket, current, backfill);
    if (outcome.kind == DigestOutcome::Valid) {
      std::string start_text = py_text(outcome.digest.get("digestStartTime"));
      auto started = parse_time(start_text);
      if (!started) {
        // Raised inside the CLI's try: an invalid digest.
        outcome.kind = DigestOutcome::Invalid;
        outcome.message = "Digest file\ts3://" + bucket + "/" + current + "\tINVALID: Unable to parse date value: " + start_text;
      } else {
        last_start = started->wall;
        auto previous_bucket = opt_string(outcome.digest, "previousDigestS3Bucket");
        auto previous_key = opt_string(outcome.digest, "previousDigestS3Object");
        on_valid_digest(outcome.digest, backfill);
        if (!previous_bucket || !previous_key) {
          auto next = find_next(current);
          if (next.first)
            status(tag + "No log files were delivered by CloudTrail between " + format_display_time(next.second) + " and " +
                       format_display_time(last_start),
                   true);
        } else {
          key = previous_key;
          if (*previous_bucket != bucket) {
            bucket = *previous_bucket;
            digests = &load_digests(bucket, start_, outcome.end, backfill);
          }
        }
        continue;
      }
    }
    if (outcome.kind == DigestOutcome::Missing) {
      find_next(current);
      ++(backfill ? invalid_backfill_ : invalid_digests_);
      status(tag + "Digest file\ts3://" + bucket + "/" + current + "\tINVALID: not found", true);
    } else {
      find_next(current);
      ++(backfill ? invalid_backfill_ : invalid_digests_);
      status(tag + outcome.message, true);
    }
  }
}

void Run::on_valid_digest(const Value& digest, bool backfill) {
  // _track_found_times: compares the digest's own (zone-aware) times with the requested range.
  auto started = parse_time(py_text(digest.get("digestStartTime")));
  auto ended = parse_time(py_text(digest.get("digestEndTime")));
  if (!started || !ended) throw ValidationAbort("Unable to parse date value: " + py_text(digest.get("digestEndTime")));
  if (!started->has_zone || !ended->has_zone) throw ValidationAbort("can't compare offset-naive and offset-aware datetimes");
  double earliest = std::max(started->utc, start_);
  if (!found_start_ || earliest < *found_start_) found_start_ = earliest;
  double latest = std::min(ended->utc, end_);
  if (!found_end_ || latest > *found_end_) found_end_ = latest;

  ++(backfill ? valid_backfill_ : valid_digests_);
  status(std::string(backfill ? "(backfill) " : "") + "Digest file\ts3://" + py_text(digest.get("digestS3Bucket")) + "/" +
             py_text(digest.get("digestS3Object")) + "\tvalid",
         false);
  const Value* logs = digest.get("logFiles");
  if (!logs) throw ValidationAbort("'logFiles'");
  if (logs->is_null() || (logs->is_list() && logs->size() == 0)) return;
  if (!logs->is_list()) throw ValidationAbort("logFiles is not a list");
  for (const Value& log : logs->as_list()) download_log(log);
}

void Run::download_log(const Value& log) {
  const Value* bucket = log.get("s3Bucket");
  const Value* key = log.get("s3Object");
  if (!bucket || !key || !bucket->is_string() || !key->is_string()) throw ValidationAbort("'s3Bucket'");
  std::string where = "Log file\ts3://" + bucket->as_string() + "/" + key->as_string() + "\t";
  auto object = source_.get_object(bucket->as_string(), key->as_string());
  if (!object) {
    ++invalid_logs_;
    status(where + "INVALID: not found", true);
    return;
  }
  auto inflated = gunzip_strict(object->body, /*lenient=*/true);
  const Value* hash = log.get("hashValue");
  if (!inflated || !hash) {
    ++invalid_logs_;
    status(where + "INVALID: invalid format", true);
    return;
  }
  if (!hash->is_string() || sha256_hex(*inflated) != hash->as_string()) {
    ++invalid_logs_;
    status(where + "INVALID: hash value doesn't match", true);
    return;
  }
  ++valid_logs_;
  status(where + "valid", false);
}

void Run::ratio(int valid, int invalid, const char* name) {
  int total = valid + invalid;
  if (total <= 0) return;
  out_ << '\n' << valid << '/' << total << ' ' << name << " files valid";
  if (invalid > 0) out_ << ", " << invalid << '/' << total << ' ' << name << " files INVALID";
}

void Run::summary() {
  if (!last_double_space_) out_ << '\n';
  out_ << "Results requested for " << format_display_time(start_) << " to " << format_display_time(end_) << '\n';
  int valid = valid_digests_ + valid_backfill_, invalid = invalid_digests_ + invalid_backfill_;
  if (!valid && !invalid) {
    out_ << "No digests found\n";
    return;
  }
  if (!found_start_ || !found_end_) out_ << "No valid digests found in range\n";
  else out_ << "Results found for " << format_display_time(*found_start_) << " to " << format_display_time(*found_end_) << ":\n";
  ratio(valid_digests_, invalid_digests_, "digest");
  ratio(valid_backfill_, invalid_backfill_, "backfill digest");
  ratio(valid_logs_, invalid_logs_, "log");
  out_ << '\n';
}

int Run::run() {
  const std::string& arn = options_.trail_arn;
  static const std::regex arn_pattern("arn:.+:cloudtrail:.+:\\d{12}:trail/.+");
  if (!std::regex_search(arn, arn_pattern, std::regex_constants::match_continuous))
    throw ValidationAbort("Invalid trail ARN provided: " + arn);
  auto start = parse_time(options_.start_time);
  if (!start) throw ValidationAbort("Unable to parse date value: " + options_.start_time);
  start_ = start->wall;
  if (options_.end_time.empty()) {
    end_ = options_.now;
  } else {
    auto end = parse_time(options_.end_time);
    if (!end) throw ValidationAbort("Unable to parse date value: " + options_.end_time);
    end_ = end->wall;
  }
  if (start_ > end_) throw ValidationAbort("Invalid time range specified: start-time must occur before end-time");

  std::vector<std::string> parts;
  for (size_t from = 0;;) {
    size_t colon = arn.find(':', from);
    parts.push_back(arn.substr(from, colon == std::string::npos ? std::string::npos : colon - from));
    if (colon == std::string::npos) break;
    from = colon + 1;
  }
  home_ = parts.size() > 3 ? parts[3] : std::string();
  account_ = parts.size() > 4 ? parts[4] : std::string();
  name_ = arn.substr(arn.rfind('/') + 1);
  source_region_ = options_.source_region.empty() ? home_ : options_.source_region;

  if (options_.s3_bucket) {
    bucket_ = *options_.s3_bucket;
    prefix_ = options_.s3_prefix.value_or(std::string());
  } else {
    auto trail = source_.describe_trail(arn);
    if (!trail) throw ValidationAbort("A trail could not be found for " + arn);
    if (trail->organization) throw ValidationAbort("Organization trails are not supported by vigil trail validate");
    bucket_ = trail->bucket;
    prefix_ = trail->prefix;
  }

  out_ << "Validating log files for trail " << arn << " between " << format_display_time(start_) << " and " << format_display_time(end_) << "\n\n";
  out_.flush();
  traverse(false);
  traverse(true);
  summary();
  out_.flush();
  return invalid_digests_ + invalid_backfill_ + invalid_logs_ > 0 ? 1 : 0;
}

}  // namespace

std::optional<ParsedTime> parse_time(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  auto digits = [&](size_t n, int& value) {
    if (i + n > text.size()) return false;
    value = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = text[i + k];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto take = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  double fraction = 0;
  if (!digits(4, year)) return std::nullopt;
  bool extended = take('-');
  if (!digits(2, month)) return std::nullopt;
  if (extended && !take('-')) return std::nullopt;
  if (!digits(2, day)) return std::nullopt;
  bool has_time = take('T') || take('t') || take(' ');
  if (has_time && i < text.size()) {
    if (!digits(2, hour)) return std::nullopt;
    bool colon = take(':');
    if (digits(2, minute)) {
      if (colon ? take(':') : true) {
        size_t before = i;
        if (!digits(2, second) && colon) return std::nullopt;
        if (i == before) second = 0;
        if (take('.') || take(',')) {
          double scale = 0.1;
          size_t start = i;
          while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            fraction += (text[i] - '0') * scale;
            scale /= 10;
            ++i;
          }
          if (i == start) return std::nullopt;
        }
      }
    } else if (colon) {
      return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  ParsedTime out;
  double offset = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size()) {
    std::string_view zone = text.substr(i);
    if (zone == "Z" || zone == "z" || zone == "UTC" || zone == "GMT") {
      out.has_zone = true;
    } else if (zone[0] == '+' || zone[0] == '-') {
      int sign = zone[0] == '-' ? -1 : 1;
      ++i;
      int oh = 0, om = 0;
      if (!digits(2, oh)) return std::nullopt;
      take(':');
      if (i < text.size() && !digits(2, om)) return std::nullopt;
      if (i != text.size()) return std::nullopt;
      offset = sign * (oh * 3600.0 + om * 60.0);
      out.has_zone = true;
    } else {
      return std::nullopt;
    }
  }
  out.wall = static_cast<double>(days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) * 86400.0 + hour * 3600.0 +
             minute * 60.0 + second + fraction;
  out.utc = out.wall - offset;
  return out;
}

std::string format_display_time(double epoch_seconds) { return strftime_utc(epoch_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

bool rsa_pkcs1_verify(std::string_view public_der, std::string_view data, std::string_view signature) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(public_der.data());
  std::unique_ptr<EVP_PKEY, EvpKeyFree> pkey(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(public_der.size())));
  if (!pkey) return false;
  if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey.get()))) return false;
  for (const EVP_MD* md : {EVP_sha256(), EVP_sha1(), EVP_sha384(), EVP_sha512(), EVP_sha224(), EVP_md5()}) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey.get()) != 1) continue;
    if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1)
      return true;
  }
  return false;
}

int validate_logs(ValidationSource& source, const ValidateOptions& options, std::ostream& out, std::ostream& err) {
  Run run(source, options, out, err);
  try {
    return run.run();
  } catch (const ValidationAbort& e) {
    out.flush();
    err << '\n' << e.what() << '\n';
    return 255;
  }
}

}  // namespace vigil::cloudtrail
