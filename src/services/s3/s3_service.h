// S3 over rest-xml (path-style and virtual-hosted): thin handlers that apply S3's rules
// (names, access by bucket policy, digests, preconditions, ranges, listing parameters) and
// call the models (ObjectStore, MultipartUploads).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "server/service.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"

namespace vigil::s3 {

// What a PutObject or UploadPart request says about its payload's checksum: the algorithm
// (None: the request names none) and the value to check, given as a header
// (x-amz-checksum-<algorithm>) or to come as the aws-chunked trailer x-amz-trailer declares.
// (A trailer of a body decoded in memory was made a header by unwrap_payload(); a spooled
// body's is read while it is decoded.)
struct ChecksumRequest {
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::None;
  std::optional<std::string> value;  // the raw digest expected (from a header)
  bool trailer = false;              // the value is the body's trailer
};

// A handler output member outside the model: the dispatcher answers this HTTP status instead
// of the operation's (206 Partial Content, 304 Not Modified).

class S3Service : public server::Service {
 public:
  S3Service(ObjectStore& objects, MultipartUploads& uploads);
  std::string validation_error_code() const override { return "InvalidArgument"; }
  void precheck_input(std::string_view operation, const Value& input) const override;
  server::AuditClass audit_class(std::string_view operation) const override;
  const Value& audit_parameters(std::string_view operation, const Value& input, Value& scratch) const override;
  const Value& audit_elements(std::string_view operation, const Value& output, Value& scratch) const override;
  bool audit_names_from_model() const override { return false; }
  void reset() override { objects_.clear_files(); }
  AwsError unsupported_operation(const std::string& operation) const override {
    return AwsError("NotImplemented", "A header you provided implies functionality that is not implemented", 501);
  }
  std::optional<HttpRequest> unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const override;
  bool takes_body_file(std::string_view operation) const override { return operation == "PutObject" || operation == "UploadPart"; }
  // Unsigned requests act as the anonymous principal: only what a bucket policy grants
  // Principal "*" (or {"AWS": "*"}) is allowed; no bucket-less operation is.
  bool accepts_anonymous() const override { return true; }
  AwsError body_too_large() const override;

  // S3's limit for one PutObject or UploadPart body (5 GiB) and the size above which the
  // listener spools such a body to a file instead of memory (smaller bodies, like the 8 MiB
  // parts of the CLI's multipart uploads, stay on the in-memory path).
  static constexpr uint64_t kMaxUploadBytes = 5ull << 30;
  static constexpr uint64_t kSpoolThresholdBytes = 8u << 20;
  // The listener's plan for a PUT's body (ServerOptions::spool_plan): a spool file for S3
  // requests (signed for "s3", header or presigned form) whose body is declared larger than
  // kSpoolThresholdBytes or not declared (Transfer-Encoding: chunked), up to kMaxUploadBytes of
  // payload (EntityTooLarge above, before a byte is read when the length says so). nullopt:
  // the body is read into memory as for any request.
  static std::optional<SpoolPlan> upload_spool_plan(const HttpRequest& head);
  // The same, with the spool file encrypted as it is written under a fresh data key of
  // `objects` (the listener's plan: a body never reaches the disk in plaintext).
  static std::optional<SpoolPlan> upload_spool_plan(const HttpRequest& head, const ObjectStore& objects);

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
  Value get_object_attributes(server::CallContext& ctx, const Value& in);
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
  // A spooled PutObject/UploadPart body (ctx.request_file) as an uncommitted object file,
  // Content-MD5 and the additional checksum checked (its digest computed with
  // `checksum.algorithm` while the body was spooled or decoded), handed to `commit` with that
  // digest (raw; empty when the algorithm is None).
  void with_request_file(server::CallContext& ctx, const Value& in, const ChecksumRequest& checksum,
                         const std::function<void(DurableFile&, const std::string&)>& commit) const;

  ObjectStore& objects_;
  MultipartUploads& uploads_;
};

}  // namespace vigil::s3
