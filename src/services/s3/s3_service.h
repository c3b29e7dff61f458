// S3 over rest-xml (path-style and virtual-hosted): thin handlers that apply S3's rules
// (names, access by bucket policy, digests, preconditions, ranges, listing parameters) and
// call the models (ObjectStore, MultipartUploads).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "server/service.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"

namespace vigil::s3 {

// A handler output member outside the model: the dispatcher answers this HTTP status instead
// of the operation's (206 Partial Content, 304 Not Modified).

class S3Service : public server::Service {
 public:
  S3Service(ObjectStore& objects, MultipartUploads& uploads);
  std::string validation_error_code() const override { return "InvalidArgument"; }
  server::AuditClass audit_class(std::string_view operation) const override;
  Value audit_parameters(std::string_view operation, const Value& input) const override;
  void reset() override { objects_.clear_files(); }
  AwsError unsupported_operation(const std::string& operation) const override {
    return AwsError("NotImplemented", "A header you provided implies functionality that is not implemented", 501);
  }
  std::optional<HttpRequest> unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const override;

 private:
  using ConditionKeys = std::map<std::string, std::string>;
  // The bucket a request names (NoSuchBucket when there is none).
  BucketRecord existing_bucket(server::CallContext& ctx, std::string_view name) const;
  // Whether the caller may do `action` (an IAM action, "s3:GetObject") on the bucket or on
  // `key` in it, with the request's condition keys: s3_request_allowed() (bucket_policy.h).
  bool allowed(const server::CallContext& ctx, const BucketRecord& bucket, std::string_view action, const std::string* key,
               const ConditionKeys& extra = {}) const;
  // existing_bucket() + allowed(), AccessDenied (403) when not.
  BucketRecord authorize(server::CallContext& ctx, std::string_view name, std::string_view action, const std::string* key = nullptr,
                         const ConditionKeys& extra = {}) const;
  // Get/Put/DeleteBucketPolicy: authorize(), and then only the owner's account (else 405).
  BucketRecord policy_bucket(server::CallContext& ctx, std::string_view name, std::string_view action) const;
  Value create_bucket(server::CallContext& ctx, const Value& in);
  Value list_buckets(server::CallContext& ctx, const Value& in);
  Value put_object(server::CallContext& ctx, const Value& in);
  Value get_object(server::CallContext& ctx, const Value& in, bool with_body);
  Value copy_object(server::CallContext& ctx, const Value& in);
  Value delete_objects(server::CallContext& ctx, const Value& in);
  Value list_objects(server::CallContext& ctx, const Value& in, bool v2);
  // CopyObject / UploadPartCopy: the source named by x-amz-copy-source, its If-* checked.
  ObjectRecord copy_source(server::CallContext& ctx, const Value& in, std::string& bucket, std::string& key);
  Value create_multipart_upload(server::CallContext& ctx, const Value& in);
  Value upload_part(server::CallContext& ctx, const Value& in, bool copy);
  Value complete_multipart_upload(server::CallContext& ctx, const Value& in);
  Value list_multipart_uploads(server::CallContext& ctx, const Value& in);
  Value list_parts(server::CallContext& ctx, const Value& in);
  UploadRecord upload_of(const BucketRecord& bucket, const Value& in) const;

  ObjectStore& objects_;
  MultipartUploads& uploads_;
};

}  // namespace vigil::s3
