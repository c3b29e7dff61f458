// The wire contract of a service, loaded from the compact models in schema/ (derived from
// botocore by tools/gen_schema.py and embedded in the binary). Codecs walk these shapes to
// decode requests and encode results; nothing here knows a service's semantics.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::protocol {

enum class ShapeType { Structure, List, Map, String, Integer, Long, Float, Double, Boolean, Blob, Timestamp, BigDecimal, Document };

struct Shape;

// A reference to a shape from a structure member, a list member or a map key/value,
// with the serialization traits botocore attaches to the reference.
struct MemberRef {
  std::string name;            // member name in the model (empty for list/map refs)
  const Shape* shape = nullptr;
  std::string location;        // "", "header", "headers", "uri", "querystring", "statusCode"
  std::string location_name;   // wire name (header name, query key, XML element, JSON key)
  std::string query_name;      // ec2 protocol only
  std::string xml_namespace_uri, xml_namespace_prefix;
  std::string timestamp_format;  // overrides the shape's
  bool required = false;
  bool flattened = false;
  bool xml_attribute = false;
  bool idempotency_token = false;
  bool json_value = false;     // header carries base64 JSON
  bool host_label = false;
  bool event_payload = false;

  // The name a body codec puts on the wire for this member.
  const std::string& wire_name() const { return location_name.empty() ? name : location_name; }
};

struct Shape {
  std::string name;
  ShapeType type = ShapeType::String;
  std::vector<MemberRef> members;       // Structure, in model order
  MemberRef list_member;                // List
  MemberRef map_key, map_value;         // Map
  std::optional<double> min, max;
  std::vector<std::string> enum_values;
  std::string pattern;
  std::string timestamp_format;         // "iso8601", "rfc822", "unixTimestamp" or ""
  std::string payload;                  // Structure: member that is the HTTP payload (rest)
  std::string location_name;            // Structure-level XML name
  std::string xml_namespace_uri;
  bool flattened = false;               // List/Map
  bool streaming = false;               // Blob streamed as the body
  bool is_union = false;
  bool document = false;                // Document type (free-form JSON)
  bool is_exception = false;
  bool fault = false;                   // server-side exception
  std::string error_code;               // error.code (query protocol) or the shape name
  int http_status = 400;                // error.httpStatusCode
  bool sender_fault = true;

  const MemberRef* member(std::string_view member_name) const;
  const MemberRef* member_by_wire_name(std::string_view wire) const;
};

struct Operation {
  std::string name;
  std::string http_method = "POST";
  std::string request_uri = "/";
  const Shape* input = nullptr;          // may be null
  const Shape* output = nullptr;         // may be null
  std::string result_wrapper;            // query protocol: output.resultWrapper
  std::string input_location_name, input_xml_namespace;  // rest-xml payload root
  int success_status = 200;              // http.responseCode
  std::vector<const Shape*> errors;
  bool unsigned_allowed = false;         // authtype none
};

struct ServiceModel {
  std::string service;           // Vigil's name: "logs", "cloudwatch", ...
  std::string protocol;          // primary protocol from metadata.protocol
  std::vector<std::string> protocols;
  std::string json_version, target_prefix, signing_name, endpoint_prefix, api_version;
  std::string xml_namespace;     // metadata.xmlNamespace (query / rest-xml)
  std::string service_id, service_full_name;
  std::unordered_map<std::string, std::unique_ptr<Shape>> shapes;
  std::unordered_map<std::string, Operation> operations;

  const Operation* operation(std::string_view name) const;
  const Shape* shape(std::string_view name) const;
  // A modeled error shape by its wire code (error.code or shape name), if any.
  const Shape* error_shape(std::string_view code) const;
};

// Parses a compact model. Throws std::runtime_error on a malformed model (a build defect).
std::unique_ptr<ServiceModel> load_service_model(std::string_view json);

// The models embedded at build time, by Vigil service name ("logs", "cloudtrail", ...).
// Loaded once, lazily; the returned pointer lives for the process. nullptr if unknown.
const ServiceModel* embedded_model(std::string_view service);

}  // namespace vigil::protocol
