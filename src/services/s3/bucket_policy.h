// S3 bucket policies: S3's validation of a PutBucketPolicy document (on top of the IAM
// structure checks of core/iam_policy.h) and the evaluation services use before they write
// into someone's bucket (CloudTrail log delivery; AWS Config later).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/iam_policy.h"
#include "core/value.h"
#include "services/s3/object_store.h"

namespace vigil::s3 {

// Parses and validates a policy for `bucket` as S3 does; throws AwsError MalformedPolicy
// (400) with S3's message. Returns the parsed document.
Value parse_bucket_policy(std::string_view text, std::string_view bucket);

// What the bucket's policy decides for a service principal (e.g. "cloudtrail.amazonaws.com")
// doing `action` on `resource` with the given condition keys. No policy (or an unreadable
// one): ImplicitDeny.
iam::Decision service_access(const ObjectStore& objects, std::string_view bucket, const std::string& service, const std::string& action,
                             const std::string& resource, const std::map<std::string, std::string>& context);

}  // namespace vigil::s3
