// AWS query protocol (CloudWatch's legacy wire, SNS, ...): the request is form-encoded
// (POST body `application/x-www-form-urlencoded`, or the query string of a GET) with
// `Action=<Operation>&Version=<apiVersion>` and members flattened the way botocore's
// QuerySerializer writes them:
//   Scalar=x   List.member.1=x   Struct.Field=x   Map.entry.1.key=k&Map.entry.1.value=v
// (flattened lists/maps drop `.member`/`.entry`; locationName renames a member, a list item
// or a map key/value; `List=` alone is an empty list). Timestamps are iso8601 (epoch seconds
// accepted), blobs base64, booleans true/false.
//
// The response is XML:
//   <OpResponse xmlns="<metadata.xmlNamespace>"><OpResult>members…</OpResult>
//     <ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></OpResponse>
// and an error is
//   <ErrorResponse xmlns="…"><Error><Type>Sender|Receiver</Type><Code>c</Code>
//     <Message>m</Message></Error><RequestId>id</RequestId></ErrorResponse>
// with Content-Type text/xml. Request errors: MissingAction / InvalidAction (400) for the
// action, MalformedQueryString for a malformed parameter name, InvalidParameterValue for a
// value that does not fit its member's type.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/codec.h"

namespace vigil::protocol {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// Splits `a=1&b=x+y` into percent-decoded pairs ('+' is a space), in order.
FormParams parse_form(std::string_view text);
// Builds the input Value of `shape` from flattened query parameters (Action/Version and
// parameters naming no member are ignored). Throws AwsError as described above.
Value query_params_to_value(const FormParams& params, const Shape* shape);

class QueryCodec : public Codec {
 public:
  explicit QueryCodec(const ServiceModel& model);
  std::string_view name() const override { return "query"; }
  const Operation& resolve_operation(const HttpRequest& request) const override;
  Value decode_request(const HttpRequest& request, const Operation& operation) const override;
  void encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                       HttpResponse& response) const override;
  void encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const override;

  // The form parameters of a request: its query string, then a form body (POST).
  static FormParams request_params(const HttpRequest& request);

 private:
  const ServiceModel& model_;
};

}  // namespace vigil::protocol
