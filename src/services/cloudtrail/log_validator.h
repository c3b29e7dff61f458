// CloudTrail log file integrity validation, the same algorithm as the AWS CLI's
// `aws cloudtrail validate-logs` (awscli/customizations/cloudtrail/validation.py, CLI v1
// 1.45; ../shared/specs/cloudtrail-integrity.md §5-§10), over an abstract source so it runs
// against a live server (HTTP, SigV4), a stopped server's data directory, or a test double.
//
// It prints what the CLI prints: the startup line, `Digest file\ts3://b/k\tvalid` and
// `Log file\ts3://b/k\tvalid` (stdout, with verbose), every problem on stderr followed by a
// blank line (`... INVALID: not found | invalid format | signature verification failed |
// hash value doesn't match | has been moved from its original location | public key not found
// ...`, the gap notice), then the summary; and returns the CLI's exit status: 0 when nothing
// is invalid (also "No digests found"), 1 when a digest or log file is invalid or missing,
// 255 when the run is aborted (trail not found, no public keys, a source error other than
// NoSuchKey, bad ARN or time range, a digest the CLI would crash on).
//
// Traversal (as the CLI): list the digest keys of the window once (marker = the key for
// start - 1 min, stop past end + 1 h), start at the newest, follow previousDigestS3Object
// while the last valid digest starts at or after `start`; a missing or invalid digest is
// counted and the walk resumes at the next older listed key; a chain start (no previous
// digest) with older keys listed prints the gap notice. Backfill digests
// (`_backfill.json.gz`) are checked in a second pass, with "(backfill) " in front.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::cloudtrail {

struct TrailLocation {
  std::string bucket, prefix;  // prefix empty: none
  bool organization = false;
};

struct PublicKeyEntry {
  std::string value;        // base64 of the PKCS#1 RSAPublicKey DER, as ListPublicKeys sends it
  std::string fingerprint;  // the lookup key digests name
};

struct FetchedObject {
  std::string body;
  std::vector<std::pair<std::string, std::string>> metadata;  // x-amz-meta-* names without the prefix, case as sent
};

// Ends the run with exit status 255 (what the CLI does on an uncaught error); the message is
// printed on stderr.
struct ValidationAbort : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the trail, the objects and the public keys come from.
class ValidationSource {
 public:
  virtual ~ValidationSource() = default;
  // DescribeTrails in the source region: the entry whose TrailARN equals `arn`; nullopt if none.
  virtual std::optional<TrailLocation> describe_trail(const std::string& arn) = 0;
  // ListObjects (V1): every key starting with `prefix` and sorting (bytewise) after `marker`,
  // ascending, passed to `visit` until it returns false.
  virtual void list_keys(const std::string& bucket, const std::string& prefix, const std::string& marker,
                         const std::function<bool(const std::string&)>& visit) = 0;
  // GetObject: nullopt for NoSuchKey; any other failure throws ValidationAbort.
  virtual std::optional<FetchedObject> get_object(const std::string& bucket, const std::string& key) = 0;
  // ListPublicKeys over [start, end] (epoch seconds).
  virtual std::vector<PublicKeyEntry> list_public_keys(double start, double end) = 0;
};

struct ValidateOptions {
  std::string trail_arn;
  std::string start_time;     // as given (lenient: 2024-03-09, 2024-03-09T10:00:00Z, ...)
  std::string end_time;       // empty: now
  std::string source_region;  // the CLI's --region; empty: the ARN's region
  std::optional<std::string> s3_bucket, s3_prefix;  // skip DescribeTrails (the CLI's --s3-bucket/--s3-prefix)
  bool verbose = false;
  double now = 0;  // epoch seconds, the default end time
};

// Runs the validation; writes the CLI's stdout text to `out` and stderr text to `err`.
// Returns 0, 1 or 255 as described above.
int validate_logs(ValidationSource& source, const ValidateOptions& options, std::ostream& out, std::ostream& err);

// A time as dateutil reads the formats validate-logs users pass (and digest files hold):
// YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]], YYYYMMDDTHHMMSS, each with an optional zone
// (Z, UTC, +HH:MM, +HHMM, +HH). `wall` is the time read as if it were UTC (the CLI discards
// the offset: normalize_date); `utc` applies the offset.
struct ParsedTime {
  double wall = 0, utc = 0;
  bool has_zone = false;
};
std::optional<ParsedTime> parse_time(std::string_view text);
std::string format_display_time(double epoch_seconds);  // YYYY-MM-DDTHH:MM:SSZ

// SHA256withRSA check as the CLI's python-rsa does it (PKCS#1 v1.5; the DigestInfo may name
// MD5, SHA-1, SHA-224/256/384/512); `public_der` is PKCS#1 RSAPublicKey DER.
bool rsa_pkcs1_verify(std::string_view public_der, std::string_view data, std::string_view signature);

}  // namespace vigil::cloudtrail
