#include "services/cloudtrail/kms_lookup.h"

#include "core/aws_error.h"

namespace vigil::cloudtrail {

std::string KmsLookup::resolve(const std::string& account, const std::string& region, const std::string& id) const {
  const bool well_formed = id.rfind("arn:aws:kms:", 0) == 0 || id.rfind("alias/", 0) == 0 ||
                           (id.size() == 36 && id.find_first_not_of("0123456789abcdef-") == std::string::npos);
  if (!well_formed) throw AwsError("InvalidKmsKeyIdException", "KMS key ID " + id + " is not valid.", 400);
  auto arn = find ? find(account, region, id) : std::nullopt;
  if (!arn) throw AwsError("KmsKeyNotFoundException", "KMS key not found: " + id, 400);
  if (std::string why = problem_of(*arn); !why.empty()) throw AwsError("KmsException", "KMS key " + *arn + " cannot be used: " + why, 400);
  return *arn;
}

}  // namespace vigil::cloudtrail
