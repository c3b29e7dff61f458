// Accounts, users and access keys from the config file. Requests are served in the account
// of the key that signed them; two accounts never see each other's data because every
// service keys its state by account id first.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::server {

struct Principal {
  std::string account_id;
  std::string user_name;       // "root" for an account's root key
  std::string access_key_id;
  std::string secret_access_key;
  bool is_root = false;
  // An unsigned request to a service that takes them (S3, for what a bucket policy grants
  // Principal "*"): no account, no ARN; CloudTrail names it "AWSAccount" "anonymous".
  bool is_anonymous = false;

  std::string arn() const;
  std::string identity_type() const { return is_anonymous ? "AWSAccount" : is_root ? "Root" : "IAMUser"; }
  std::string principal_id() const;
};

struct ServerConfig {
  std::vector<Principal> principals;
  bool dev_credentials = true;   // accept test/test in account 000000000000
  bool allow_reset = false;      // POST /_vigil/reset even off loopback / without dev keys
  // The audit recorder: every call becomes a CloudTrail event (LookupEvents, trails, the event
  // bus). false turns it off (what its cost is measured against, bench/cloudtrail_bench.py).
  bool record_api_calls = true;
  std::string default_region = "us-east-1";
  // Host names under which "<bucket>.<name>" addresses an S3 bucket (virtual-hosted style);
  // unset: protocol::default_s3_virtual_host_suffixes(); empty: path style only.
  std::optional<std::vector<std::string>> s3_virtual_host_suffixes;
};

// Parses the TOML config. Throws std::runtime_error with the file position on a bad file.
//
//   dev_credentials = false          # default true when no [[accounts]] are given
//   allow_reset = true
//   record_api_calls = false         # default true: no CloudTrail events at all when false
//   s3_virtual_host_suffixes = ["s3.example.internal"]   # default: localhost names + AWS's
//   [[accounts]]
//   id = "111111111111"
//   [[accounts.users]]
//   name = "alice"                   # "root" makes the account's root key
//   access_key_id = "AKIA..."
//   secret_access_key = "..."
ServerConfig load_config(const std::string& path);
ServerConfig default_config();

class Accounts {
 public:
  explicit Accounts(ServerConfig config);
  const Principal* find(std::string_view access_key_id) const;
  const ServerConfig& config() const { return config_; }
  bool using_dev_credentials() const { return config_.dev_credentials; }

 private:
  ServerConfig config_;
  std::unordered_map<std::string, size_t> by_key_;
};

inline constexpr std::string_view kDevAccountId = "000000000000";
inline constexpr std::string_view kDevAccessKey = "test";
inline constexpr std::string_view kDevSecretKey = "test";

}  // namespace vigil::server
