// Shared helpers of the XML-speaking codecs (query, rest-xml) and the text encodings every
// non-JSON protocol needs for scalars (query values, headers, query strings, XML text).
//
// Serialization traits follow botocore: a member reference's traits (locationName,
// flattened, xmlNamespace, timestampFormat) override those of the shape it targets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/value.h"
#include "protocol/schema.h"

namespace pugi {
class xml_node;
}

namespace vigil::protocol {

// ---- effective traits of a reference (ref may be null: the shape's own traits) ----------
std::string_view effective_name(const MemberRef* ref, std::string_view fallback);
bool effective_flattened(const MemberRef* ref, const Shape* shape);
std::string_view effective_timestamp_format(const MemberRef* ref, const Shape* shape, std::string_view fallback);
// The name a structure member has on the wire in XML and query bodies: its effective name,
// except that a flattened list whose member has a locationName uses that name (botocore).
std::string_view member_wire_key(const MemberRef& member);

// ---- scalars as text ------------------------------------------------------------------
// 2026-01-02T03:04:05.000Z: always milliseconds, as AWS writes XML and query timestamps.
std::string format_iso8601_ms(double epoch_seconds);
// Shortest text that round-trips; whole numbers keep ".0"; NaN, Infinity, -Infinity.
std::string format_double(double d);
// A timestamp in the given format ("iso8601", "rfc822", "unixTimestamp").
std::string format_timestamp(double epoch_seconds, std::string_view format);
// The text form of a scalar Value for a scalar shape (shape may be null: the kind decides).
// Booleans "true"/"false", blobs base64, timestamps per `timestamp_format`.
std::string scalar_to_text(const Value& value, const Shape* shape, std::string_view timestamp_format);
// Parses scalar text for a scalar shape. Returns nullopt when the text is not a valid value
// of that type (the caller raises its protocol's error). Strings are returned unchanged;
// timestamps accept iso8601, rfc822 and epoch seconds whatever the declared format.
std::optional<Value> text_to_scalar(std::string_view text, const Shape& shape);
bool is_scalar(const Shape& shape);

// ---- XML output -------------------------------------------------------------------------
struct XmlWriteOptions {
  // Skip members bound to HTTP (header, headers, uri, querystring, statusCode): rest-xml.
  bool skip_http_members = true;
  std::string_view default_timestamp_format = "iso8601";
};

// Writes `value` as the XML element(s) of a member named `name` whose reference is `ref`
// (null for a root). Lists/maps honour flattened and member/key/value names.
void write_xml_member(std::string& out, const Value& value, const Shape* shape, const MemberRef* ref, std::string_view name,
                      const XmlWriteOptions& options, int depth = 0);
// Writes `<name attrs>children</name>` for a structure, adding xmlns="namespace" when not
// empty (and the reference's/shape's own namespace otherwise).
void write_xml_structure(std::string& out, const Value& value, const Shape& shape, std::string_view name,
                         std::string_view xml_namespace, const XmlWriteOptions& options, int depth = 0);
// Only the child elements of a structure value, in model order.
void write_xml_members(std::string& out, const Value& value, const Shape& shape, const XmlWriteOptions& options, int depth = 0);
void append_xml_element(std::string& out, std::string_view name, std::string_view text);  // <n>escaped</n>

// ---- XML input --------------------------------------------------------------------------
struct XmlReadOptions {
  std::string error_code = "MalformedXML";  // AwsError code thrown on a type mismatch
  bool skip_http_members = true;
  int max_depth = 64;
};
// Reads the members of a structure from an element (its children and attributes).
// Throws AwsError(options.error_code) when a value does not fit its shape.
Value read_xml_structure(const pugi::xml_node& node, const Shape& shape, const XmlReadOptions& options, int depth = 0);
// Parses a document and reads its root element as `shape` (root name not checked).
// Throws AwsError(options.error_code) on malformed XML.
Value parse_xml_body(std::string_view body, const Shape& shape, const XmlReadOptions& options);
// Local part of an element/attribute name ("s3:Key" -> "Key").
std::string_view xml_local_name(std::string_view qualified);

}  // namespace vigil::protocol
