// awsJson 1.0 / 1.1: POST / with X-Amz-Target "<targetPrefix>.<Operation>" and a JSON body.
// The JSON <-> Value conversion is shared with rest-json and with the audit recorder.
#pragma once

#include <string>
#include <string_view>

#include "protocol/codec.h"

namespace vigil::protocol {

// Parses JSON text into a Value shaped by `shape` (nullptr: free-form document). Throws
// AwsError(SerializationException) on malformed JSON or a type the shape does not allow.
Value json_to_value(std::string_view json, const Shape* shape);

// Writes a Value as JSON. With a shape, member wire names, timestamp formats and blob
// base64 follow the model; without one the Value's own kinds decide. Null members are
// left out (AWS responses omit absent members) unless keep_nulls (CloudTrail records).
void value_to_json(const Value& value, const Shape* shape, std::string& out, bool keep_nulls = false);
std::string value_to_json(const Value& value, const Shape* shape = nullptr, bool keep_nulls = false);

class JsonCodec : public Codec {
 public:
  explicit JsonCodec(const ServiceModel& model);
  std::string_view name() const override { return "json"; }
  const Operation& resolve_operation(const HttpRequest& request) const override;
  Value decode_request(const HttpRequest& request, const Operation& operation) const override;
  void encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                       HttpResponse& response) const override;
  void encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const override;

 private:
  const ServiceModel& model_;
  std::string content_type_;
};

}  // namespace vigil::protocol
