// Smithy RPC v2 CBOR: POST /service/<ServiceName>/operation/<Operation> with
// `smithy-protocol: rpc-v2-cbor` and a CBOR map body (Content-Type application/cbor).
//
// <ServiceName> is what botocore (RpcV2CBORSerializer) puts there: the model's
// metadata.targetPrefix (for CloudWatch "GraniteServiceVersion20100801", the Smithy service
// shape name). Timestamps are tag 1 epoch seconds, blobs byte strings. Errors are a CBOR map
// {"__type": <error shape name>, "message": ...}; for a query-compatible service (the model
// also speaks "query", as CloudWatch does) the `x-amzn-query-error: <Code>;Sender|Receiver`
// header carries the query error code, which is what botocore raises.
#pragma once

#include <string>
#include <string_view>

#include "protocol/codec.h"

namespace vigil::protocol {

// Converts a decoded CBOR Value (cbor::decode) to the shape: member names/wire names, numeric
// widening, tag-1 or plain numbers for timestamps, nulls dropped from structures and maps.
// Throws AwsError(SerializationException) on a type the shape does not allow.
Value cbor_value_to_shape(Value value, const Shape* shape);
// Encodes a Value as CBOR following the shape (timestamps tagged, blobs as byte strings,
// integers/doubles per the shape's type, null members omitted, member names as keys).
void shape_value_to_cbor(const Value& value, const Shape* shape, std::string& out);

class CborCodec : public Codec {
 public:
  explicit CborCodec(const ServiceModel& model);
  std::string_view name() const override { return "smithy-rpc-v2-cbor"; }
  const Operation& resolve_operation(const HttpRequest& request) const override;
  Value decode_request(const HttpRequest& request, const Operation& operation) const override;
  void encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                       HttpResponse& response) const override;
  void encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const override;

 private:
  const ServiceModel& model_;
  bool query_compatible_;
};

}  // namespace vigil::protocol
