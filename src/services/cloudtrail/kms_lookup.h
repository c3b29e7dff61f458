// How trails and event data stores reach KMS keys (KmsKeyId) without depending on the KMS
// service: the app wires these two functions to kms::KeyStore. Unset: no key exists.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace vigil::cloudtrail {

struct KmsLookup {
  // The ARN of the key an id names (key id, key ARN, alias name or alias ARN) in the account
  // and region, whatever its state; nullopt if there is none.
  std::function<std::optional<std::string>(const std::string& account, const std::string& region, const std::string& id)> find;
  // For a key's ARN: empty if it can encrypt now, else the KMS error code saying why not
  // ("DisabledException", "KMSInvalidStateException", "NotFoundException").
  std::function<std::string(const std::string& key_arn)> problem;

  // KmsKeyId as CloudTrail takes it, resolved to a usable key's ARN; throws
  // InvalidKmsKeyIdException (not a key id, ARN or alias), KmsKeyNotFoundException, or
  // KmsException (disabled, pending deletion).
  std::string resolve(const std::string& account, const std::string& region, const std::string& id) const;
  std::string problem_of(const std::string& key_arn) const { return problem ? problem(key_arn) : std::string(); }
};

}  // namespace vigil::cloudtrail
