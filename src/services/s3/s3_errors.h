// S3's errors that several parts of the service raise, spelled once, with the members S3
// adds to name what they are about (AwsError::with).
#pragma once

#include <string>
#include <string_view>

#include "core/aws_error.h"

namespace vigil::s3 {

inline AwsError no_such_bucket(std::string_view bucket) {
  return AwsError("NoSuchBucket", "The specified bucket does not exist", 404).with("BucketName", std::string(bucket));
}
inline AwsError no_such_key(std::string_view key) {
  return AwsError("NoSuchKey", "The specified key does not exist.", 404).with("Key", std::string(key));
}
inline AwsError no_such_upload(std::string_view upload_id) {
  return AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", 404)
      .with("UploadId", std::string(upload_id));
}
// `condition`: the header that failed (If-Match, If-None-Match, If-Unmodified-Since), or empty.
inline AwsError precondition_failed(std::string_view condition) {
  AwsError error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412);
  if (!condition.empty()) error.with("Condition", std::string(condition));
  return error;
}

}  // namespace vigil::s3
