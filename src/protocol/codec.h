// One codec per AWS protocol turns an HTTP request into a model-shaped Value and a result or
// error back into HTTP, for every operation of every service. Handlers never touch HTTP.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "core/value.h"
#include "protocol/schema.h"

namespace vigil::protocol {

struct ResponseContext {
  std::string request_id;
};

class Codec {
 public:
  virtual ~Codec() = default;
  virtual std::string_view name() const = 0;  // "json", "query", "smithy-rpc-v2-cbor", "rest-json", "rest-xml"
  // The operation the request calls. Throws AwsError (UnknownOperationException or the
  // protocol's equivalent) when the request names none of the model's operations.
  virtual const Operation& resolve_operation(const HttpRequest& request) const = 0;
  // Decodes the input; throws AwsError (SerializationException or the protocol's
  // equivalent) on malformed input. Does not check constraints: see validate.h.
  virtual Value decode_request(const HttpRequest& request, const Operation& operation) const = 0;
  virtual void encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                               HttpResponse& response) const = 0;
  virtual void encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const = 0;
};

// The codec for one of the model's protocols ("json" covers awsJson 1.0 and 1.1 via the
// model's jsonVersion). Returns nullptr for a protocol this build has no codec for.
std::unique_ptr<Codec> make_codec(const ServiceModel& model, std::string_view protocol);

// Which of the model's protocols this request speaks (Content-Type, X-Amz-Target,
// smithy-protocol header, form body). Falls back to the model's primary protocol.
std::string detect_protocol(const ServiceModel& model, const HttpRequest& request);

}  // namespace vigil::protocol
