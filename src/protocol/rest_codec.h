// rest-json and rest-xml (S3, X-Ray, ...): the operation is chosen by HTTP method + the
// model's requestUri template, and input members are bound to HTTP locations:
//   uri          {Label} (one path segment) or {Label+} (greedy, may contain '/')
//   querystring  ?name=value (lists repeat the name; a map takes the unbound parameters)
//   header       a header (timestamps rfc822, lists comma-separated, jsonvalue base64 JSON)
//   headers      every header with a prefix (S3 x-amz-meta-*), as a map without the prefix
//   (body)       the payload member (blob/string: raw bytes; structure: XML/JSON document),
//                or every unbound member as one XML/JSON document
// Literal query parts of the template ("?location", "?list-type=2", "?select&select-type=2")
// must be present. When several operations match, the most specific wins: all required
// header/querystring members present, then more literal query parts, more required
// header/querystring members present, more literal path segments, no greedy label, and
// finally not in RestOptions::deprioritized_operations (deprecated aliases such as S3
// GetBucketLifecycle vs GetBucketLifecycleConfiguration).
//
// Responses: header/headers/statusCode members go to HTTP; a blob/string payload is the raw
// body (Value kind Blob or String); other body members are an XML document (root element
// per RestOptions, xmlns of the service) or a JSON object. Errors: S3 style
// <Error><Code/><Message/><RequestId/><HostId/></Error>, other rest-xml
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>,
// rest-json `X-Amzn-ErrorType: <code>` + {"__type":…,"message":…}.
// Request errors: rest-xml MalformedXML (body) / InvalidArgument (uri, query, header
// values); rest-json SerializationException. Unroutable: MethodNotAllowed (405) when the
// path matches another method, else rest-xml InvalidRequest (400) / rest-json
// UnknownOperationException (404).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/codec.h"

namespace vigil::protocol {

struct RestOptions {
  // S3 virtual-hosted-style addressing: when the Host header (port stripped) is
  // "<bucket>.<suffix>" for one of these suffixes (e.g. "s3.localhost", "localhost"), the
  // bucket is prepended to the path before routing, so "/key" on host "b.s3.localhost"
  // routes like "/b/key". A '*' in a suffix stands for part of one DNS label
  // ("s3.*.amazonaws.com" takes any region). See virtual_host_bucket(). Empty: path style
  // only. Only routing sees the rewritten path; SigV4 verifies the request as sent.
  std::vector<std::string> virtual_host_suffixes;
  std::vector<std::string> deprioritized_operations;
  // rest-xml: root element of an output document without a payload member, by operation.
  // Default "<Operation><root_suffix>".
  std::unordered_map<std::string, std::string> output_root_names;
  std::string root_suffix = "Response";
  // rest-xml: outputs written as one member's text in a root element of its name
  // (S3 GetBucketLocation: <LocationConstraint xmlns="…">eu-west-1</LocationConstraint>).
  std::unordered_map<std::string, std::string> text_root_outputs;
  std::string xml_namespace;     // of response roots; default the model's metadata.xmlNamespace
  bool xml_declaration = false;  // prefix XML bodies with <?xml version="1.0" encoding="UTF-8"?>
  bool s3_errors = false;        // <Error> documents and x-amz-request-id / x-amz-id-2 headers
  std::string blob_content_type = "application/octet-stream";  // blob payload without ContentType
};

// The host names S3 serves virtual-hosted-style by default: local development names and AWS's
// own S3 endpoints (clients that keep an AWS host name and are pointed at Vigil, or send it).
std::vector<std::string> default_s3_virtual_host_suffixes();

// The bucket a Host header (with or without :port) names under one of `suffixes`, or
// nullopt for path style. A host that is itself one of the suffixes is path style; otherwise
// the bucket is everything before the first '.' after which the rest is a suffix, so
// "my.bucket.s3.localhost" is bucket "my.bucket". IP addresses are never virtual hosts.
std::optional<std::string> virtual_host_bucket(std::string_view host, const std::vector<std::string>& suffixes);

// The options a service needs by default: S3's table of root elements, namespace, errors and
// deprecated aliases when the model is S3 (serviceId "S3"); plain defaults otherwise.
RestOptions default_rest_options(const ServiceModel& model);

class RestCodec : public Codec {
 public:
  // protocol: "rest-json" or "rest-xml".
  RestCodec(const ServiceModel& model, std::string protocol);
  RestCodec(const ServiceModel& model, std::string protocol, RestOptions options);
  ~RestCodec() override;

  std::string_view name() const override { return protocol_; }
  const Operation& resolve_operation(const HttpRequest& request) const override;
  Value decode_request(const HttpRequest& request, const Operation& operation) const override;
  void encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                       HttpResponse& response) const override;
  void encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const override;

  const RestOptions& options() const { return options_; }

  struct Route;

 private:
  std::string effective_path(const HttpRequest& request) const;
  const Route* route_of(const Operation& operation) const;
  [[noreturn]] void request_error(const std::string& message) const;

  const ServiceModel& model_;
  std::string protocol_;
  RestOptions options_;
  bool xml_;
  std::vector<Route> routes_;
};

}  // namespace vigil::protocol
