// S3 bucket policies: S3's validation of a PutBucketPolicy document (on top of the IAM
// structure checks of core/iam_policy.h), the decision on every S3 request to a bucket, and
// the evaluation services use before they write into someone's bucket (CloudTrail log
// delivery; AWS Config later).
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

// Whether S3 lets `caller` (account + principal ARN + condition keys, action and resource
// set) make a request to `bucket`. Vigil has no identity policies yet, so the bucket owner's
// principals hold every permission on their own buckets: the owner's account is allowed
// unless the bucket policy explicitly denies the request; any other account needs an
// explicit Allow from it. An explicit Deny applies to everyone, except that the owner's root
// user may always Get/Put/DeleteBucketPolicy (AWS's lock-out protection). An unreadable
// stored policy counts as none.
bool s3_request_allowed(const ObjectStore& objects, const BucketRecord& bucket, const iam::Request& caller, bool caller_is_root);

// What the bucket's policy decides for a service principal (e.g. "cloudtrail.amazonaws.com")
// doing `action` on `resource` with the given condition keys. No policy (or an unreadable
// one): ImplicitDeny.
iam::Decision service_access(const ObjectStore& objects, std::string_view bucket, const std::string& service, const std::string& action,
                             const std::string& resource, const std::map<std::string, std::string>& context);

}  // namespace vigil::s3
