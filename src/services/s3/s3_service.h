// S3 over rest-xml (path-style): thin handlers that apply S3's rules (names, ownership,
// digests, preconditions, ranges, listing parameters) and call the ObjectStore model.
#pragma once

#include <string_view>

#include "server/service.h"
#include "services/s3/object_store.h"

namespace vigil::s3 {

// A handler output member outside the model: the dispatcher answers this HTTP status instead
// of the operation's (206 Partial Content, 304 Not Modified).

class S3Service : public server::Service {
 public:
  explicit S3Service(ObjectStore& objects);
  std::string validation_error_code() const override { return "InvalidArgument"; }
  server::AuditClass audit_class(std::string_view operation) const override;
  Value audit_parameters(std::string_view operation, const Value& input) const override;
  void reset() override { objects_.clear_files(); }
  AwsError unsupported_operation(const std::string& operation) const override {
    return AwsError("NotImplemented", "A header you provided implies functionality that is not implemented", 501);
  }
  std::optional<HttpRequest> unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const override;

 private:
  BucketRecord owned_bucket(server::CallContext& ctx, std::string_view name) const;
  Value create_bucket(server::CallContext& ctx, const Value& in);
  Value list_buckets(server::CallContext& ctx, const Value& in);
  Value put_object(server::CallContext& ctx, const Value& in);
  Value get_object(server::CallContext& ctx, const Value& in, bool with_body);
  Value copy_object(server::CallContext& ctx, const Value& in);
  Value delete_objects(server::CallContext& ctx, const Value& in);
  Value list_objects(server::CallContext& ctx, const Value& in, bool v2);

  ObjectStore& objects_;
};

}  // namespace vigil::s3
