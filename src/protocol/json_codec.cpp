#include "protocol/json_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/encoding.h"

namespace vigil::protocol {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int kMaxDepth = 64;  // bounds recursion on free-form documents

[[noreturn]] void serialization_error(const std::string& message) { throw AwsError("SerializationException", message, 400); }

std::string describe(const std::string& path) { return path.empty() ? std::string("the request") : "'" + path + "'"; }

Value convert(element e, const Shape* shape, const std::string& path, int depth);

Value convert_document(element e, int depth) {
  if (depth > kMaxDepth) serialization_error("Document nested too deeply");
  switch (e.type()) {
    case element_type::OBJECT: {
      Value out = Value::map();
      for (auto field : e.get_object()) out.as_map().emplace_back(std::string(field.key), convert_document(field.value, depth + 1));
      return out;
    }
    case element_type::ARRAY: {
      Value out = Value::list();
      for (element item : e.get_array()) out.as_list().push_back(convert_document(item, depth + 1));
      return out;
    }
    case element_type::STRING: return Value(std::string_view(e.get_string()));
    case element_type::INT64: return Value(int64_t(e.get_int64()));
    case element_type::UINT64: return Value(double(uint64_t(e.get_uint64())));
    case element_type::DOUBLE: return Value(double(e.get_double()));
    case element_type::BOOL: return Value(bool(e.get_bool()));
    case element_type::NULL_VALUE: return Value();
  }
  return Value();
}

double number_of(element e, const std::string& path) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(int64_t(e.get_int64()));
    case element_type::UINT64: return static_cast<double>(uint64_t(e.get_uint64()));
    case element_type::DOUBLE: return double(e.get_double());
    default: serialization_error("Expected a number for " + describe(path));
  }
}

Value convert(element e, const Shape* shape, const std::string& path, int depth) {
  if (depth > kMaxDepth) serialization_error("Request nested too deeply");
  if (!shape || shape->document) return convert_document(e, depth);
  if (e.type() == element_type::NULL_VALUE) return Value();
  switch (shape->type) {
    case ShapeType::Structure: {
      if (e.type() != element_type::OBJECT) serialization_error("Start of structure or map expected for " + describe(path));
      Value out = Value::map();
      for (auto field : e.get_object()) {
        const MemberRef* member = shape->member_by_wire_name(field.key);
        if (!member) continue;  // AWS ignores members it does not know
        std::string child = path.empty() ? member->name : path + "." + member->name;
        Value v = convert(field.value, member->shape, child, depth + 1);
        if (!v.is_null()) out.as_map().emplace_back(member->name, std::move(v));
      }
      return out;
    }
    case ShapeType::List: {
      if (e.type() != element_type::ARRAY) serialization_error("Start of list expected for " + describe(path));
      Value out = Value::list();
      auto array = e.get_array();
      out.as_list().reserve(array.size());
      size_t index = 0;
      for (element item : array) {
        out.as_list().push_back(convert(item, shape->list_member.shape, path + "." + std::to_string(++index), depth + 1));
      }
      return out;
    }
    case ShapeType::Map: {
      if (e.type() != element_type::OBJECT) serialization_error("Start of map expected for " + describe(path));
      Value out = Value::map();
      for (auto field : e.get_object())
        out.as_map().emplace_back(std::string(field.key), convert(field.value, shape->map_value.shape, path + "." + std::string(field.key), depth + 1));
      return out;
    }
    case ShapeType::String:
      if (e.type() != element_type::STRING) serialization_error("Expected a string for " + describe(path));
      return Value(std::string_view(e.get_string()));
    case ShapeType::Boolean:
      if (e.type() != element_type::BOOL) serialization_error("Expected a boolean for " + describe(path));
      return Value(bool(e.get_bool()));
    case ShapeType::Integer:
    case ShapeType::Long: {
      if (e.type() == element_type::INT64) {
        int64_t v = e.get_int64();
        if (shape->type == ShapeType::Integer && (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()))
          serialization_error("Number out of range for " + describe(path));
        return Value(v);
      }
      if (e.type() == element_type::DOUBLE) {
        double d = e.get_double();
        if (std::floor(d) == d && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
      }
      serialization_error("Expected an integer for " + describe(path));
    }
    case ShapeType::Float:
    case ShapeType::Double:
    case ShapeType::BigDecimal:
      if (e.type() == element_type::STRING) {  // "NaN", "Infinity", "-Infinity" per the JSON protocols
        std::string_view s = e.get_string();
        if (s == "NaN") return Value(std::numeric_limits<double>::quiet_NaN());
        if (s == "Infinity") return Value(std::numeric_limits<double>::infinity());
        if (s == "-Infinity") return Value(-std::numeric_limits<double>::infinity());
      }
      return Value(number_of(e, path));
    case ShapeType::Timestamp:
      if (e.type() == element_type::STRING) {
        auto t = parse_any_timestamp(std::string_view(e.get_string()));
        if (!t) serialization_error("Invalid timestamp for " + describe(path));
        return Value(Timestamp{*t});
      }
      return Value(Timestamp{number_of(e, path)});
    case ShapeType::Blob: {
      if (e.type() != element_type::STRING) serialization_error("Expected base64 text for " + describe(path));
      auto bytes = base64_decode(std::string_view(e.get_string()));
      if (!bytes) serialization_error("Invalid base64 for " + describe(path));
      return Value(Blob{std::move(*bytes)});
    }
    case ShapeType::Document: return convert_document(e, depth);
  }
  return Value();
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
  } else if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else if (d == std::floor(d) && std::fabs(d) < 1e15) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(d));
    out.append(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
    out += ".0";
  } else {
    // The shortest representation that round-trips (to_chars: no printf parsing, no retries;
    // a GetMetricData answer holds thousands of doubles).
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
  }
}

void write_timestamp(const Value& v, const std::string& format, std::string& out) {
  double t = v.as_double();
  if (format == "iso8601") {
    append_json_string(out, format_iso8601(t));
  } else if (format == "rfc822") {
    append_json_string(out, format_rfc822(t));
  } else {
    append_epoch_number(out, t);
  }
}

void write(const Value& v, const Shape* shape, const std::string& timestamp_format, std::string& out, bool keep_nulls) {
  switch (v.kind()) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int:
      if (shape && shape->type == ShapeType::Timestamp) return write_timestamp(v, timestamp_format, out);
      if (shape && (shape->type == ShapeType::Double || shape->type == ShapeType::Float)) return append_double(out, v.as_double());
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Double:
      if (shape && shape->type == ShapeType::Timestamp) return write_timestamp(v, timestamp_format, out);
      if (shape && (shape->type == ShapeType::Integer || shape->type == ShapeType::Long)) {
        out += std::to_string(v.as_int());
        return;
      }
      return append_double(out, v.as_double());
    case Value::Kind::String: append_json_string(out, v.as_string()); return;
    case Value::Kind::Blob: append_json_string(out, base64_encode(v.as_blob().bytes)); return;
    case Value::Kind::Timestamp: return write_timestamp(v, timestamp_format, out);
    case Value::Kind::List: {
      out += '[';
      const Shape* item_shape = shape && shape->type == ShapeType::List ? shape->list_member.shape : nullptr;
      std::string item_format = item_shape ? item_shape->timestamp_format : std::string();
      bool first = true;
      for (const auto& item : v.as_list()) {
        if (!first) out += ',';
        first = false;
        write(item, item_shape, item_format, out, keep_nulls);
      }
      out += ']';
      return;
    }
    case Value::Kind::Map: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_map()) {
        const Shape* item_shape = nullptr;
        std::string item_format;
        std::string_view wire = key;
        if (shape && shape->type == ShapeType::Structure) {
          if (const MemberRef* m = shape->member(key)) {
            item_shape = m->shape;
            wire = m->wire_name();
            item_format = !m->timestamp_format.empty() ? m->timestamp_format : m->shape->timestamp_format;
          }
        } else if (shape && shape->type == ShapeType::Map) {
          item_shape = shape->map_value.shape;
          item_format = item_shape ? item_shape->timestamp_format : std::string();
        }
        if (item.is_null() && !keep_nulls) continue;
        if (!first) out += ',';
        first = false;
        append_json_string(out, wire);
        out += ':';
        write(item, item_shape, item_format, out, keep_nulls);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

Value json_to_value(std::string_view json, const Shape* shape) {
  // A parser per thread: simdjson parsers reuse their buffers, so steady-state parsing of a
  // request costs one pass over the bytes plus the Value allocations.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err) serialization_error(std::string("Malformed JSON: ") + simdjson::error_message(err));
  try {
    return convert(root, shape, "", 0);
  } catch (const simdjson::simdjson_error& e) {
    serialization_error(std::string("Malformed JSON: ") + e.what());
  }
}

void value_to_json(const Value& value, const Shape* shape, std::string& out, bool keep_nulls) {
  write(value, shape, shape ? shape->timestamp_format : std::string(), out, keep_nulls);
}

std::string value_to_json(const Value& value, const Shape* shape, bool keep_nulls) {
  std::string out;
  value_to_json(value, shape, out, keep_nulls);
  return out;
}

JsonCodec::JsonCodec(const ServiceModel& model)
    : model_(model), content_type_("application/x-amz-json-" + (model.json_version.empty() ? std::string("1.0") : model.json_version)) {}

const Operation& JsonCodec::resolve_operation(const HttpRequest& request) const {
  std::string_view target = request.header("x-amz-target");
  size_t dot = target.rfind('.');
  std::string_view prefix = dot == std::string_view::npos ? std::string_view() : target.substr(0, dot);
  std::string_view name = dot == std::string_view::npos ? target : target.substr(dot + 1);
  const Operation* op = prefix == model_.target_prefix ? model_.operation(name) : nullptr;
  if (!op) throw AwsError("UnknownOperationException", target.empty() ? "Missing X-Amz-Target header" : "Unknown operation " + std::string(target), 400);
  return *op;
}

Value JsonCodec::decode_request(const HttpRequest& request, const Operation& operation) const {
  std::string_view body = request.body;
  if (body.empty() || body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Value::map();
  Value v = json_to_value(body, operation.input);
  if (!v.is_map()) serialization_error("Request body must be a JSON object");
  return v;
}

void JsonCodec::encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                                HttpResponse& response) const {
  response.status = 200;
  response.set_header("Content-Type", content_type_);
  response.set_header("x-amzn-RequestId", context.request_id);
  response.body.clear();
  if (output.is_null()) {
    response.body = "{}";
  } else {
    value_to_json(output, operation.output, response.body);
  }
}

void JsonCodec::encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const {
  response.status = error.http_status();
  response.set_header("Content-Type", content_type_);
  response.set_header("x-amzn-RequestId", context.request_id);
  response.set_header("x-amzn-ErrorType", error.code());
  response.body.clear();
  response.body += "{\"__type\":";
  append_json_string(response.body, error.code());
  response.body += ",\"message\":";
  append_json_string(response.body, error.message());
  response.body += '}';
}

}  // namespace vigil::protocol
