#include "protocol/cbor_codec.h"

#include <cmath>
#include <limits>

#include "protocol/cbor.h"

namespace vigil::protocol {

namespace {

constexpr int kMaxDepth = 64;

[[noreturn]] void serialization_error(const std::string& message) { throw AwsError("SerializationException", message, 400); }

std::string describe(const std::string& path) { return path.empty() ? std::string("the request") : "'" + path + "'"; }


Value convert(Value v, const Shape* shape, const std::string& path, int depth) {
  if (depth > kMaxDepth) serialization_error("Request nested too deeply");
  if (v.is_null() || !shape || shape->document) return v;
  switch (shape->type) {
    case ShapeType::Structure: {
      if (!v.is_map()) serialization_error("Expected a map for " + describe(path));
      Value out = Value::map();
      for (auto& [key, item] : v.as_map()) {
        const MemberRef* member = shape->member(key);
        if (!member) member = shape->member_by_wire_name(key);
        if (!member || item.is_null()) continue;  // unknown members are ignored, as AWS does
        if (out.has(member->name)) continue;      // first occurrence wins
        Value converted = convert(std::move(item), member->shape, path.empty() ? member->name : path + "." + member->name, depth + 1);
        if (!converted.is_null()) out.as_map().emplace_back(member->name, std::move(converted));
      }
      return out;
    }
    case ShapeType::List: {
      if (!v.is_list()) serialization_error("Expected an array for " + describe(path));
      Value out = Value::list();
      out.as_list().reserve(v.as_list().size());
      size_t index = 0;
      for (auto& item : v.as_list())
        out.as_list().push_back(convert(std::move(item), shape->list_member.shape, path + "." + std::to_string(++index), depth + 1));
      return out;
    }
    case ShapeType::Map: {
      if (!v.is_map()) serialization_error("Expected a map for " + describe(path));
      Value out = Value::map();
      for (auto& [key, item] : v.as_map()) {
        if (item.is_null()) continue;
        out.as_map().emplace_back(key, convert(std::move(item), shape->map_value.shape, path + "." + key, depth + 1));
      }
      return out;
    }
    case ShapeType::String:
      if (!v.is_string()) serialization_error("Expected a text string for " + describe(path));
      return v;
    case ShapeType::Boolean:
      if (v.kind() != Value::Kind::Bool) serialization_error("Expected a boolean for " + describe(path));
      return v;
    case ShapeType::Integer:
    case ShapeType::Long: {
      int64_t i;
      if (v.kind() == Value::Kind::Int) {
        i = v.as_int();
      } else if (v.kind() == Value::Kind::Double && std::floor(v.as_double()) == v.as_double() && std::fabs(v.as_double()) < 9.2e18) {
        i = static_cast<int64_t>(v.as_double());
      } else {
        serialization_error("Expected an integer for " + describe(path));
      }
      if (shape->type == ShapeType::Integer && (i > std::numeric_limits<int32_t>::max() || i < std::numeric_limits<int32_t>::min()))
        serialization_error("Number out of range for " + describe(path));
      return Value(i);
    }
    case ShapeType::Float:
    case ShapeType::Double:
    case ShapeType::BigDecimal:
      if (v.kind() != Value::Kind::Int && v.kind() != Value::Kind::Double) serialization_error("Expected a number for " + describe(path));
      return Value(v.as_double());
    case ShapeType::Timestamp:
      if (v.kind() == Value::Kind::Timestamp) return v;
      if ((v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Double) && std::isfinite(v.as_double())) return Value(Timestamp{v.as_double()});
      serialization_error("Expected a timestamp for " + describe(path));
    case ShapeType::Blob:
      if (v.kind() != Value::Kind::Blob) serialization_error("Expected a byte string for " + describe(path));
      return v;
    case ShapeType::Document: return v;
  }
  return v;
}

void write(const Value& v, const Shape* shape, cbor::Writer& w, int depth) {
  if (depth > 200) throw internal_error("response nested too deeply");
  if (!shape || shape->document) {
    std::string& out = w.out();
    cbor::encode(v, out);
    return;
  }
  if (v.is_null()) {
    w.null();
    return;
  }
  switch (shape->type) {
    case ShapeType::Structure:
    case ShapeType::Map: {
      if (!v.is_map()) break;
      size_t count = 0;
      for (const auto& [k, item] : v.as_map())
        if (!item.is_null()) ++count;
      w.map(count);
      for (const auto& [k, item] : v.as_map()) {
        if (item.is_null()) continue;
        w.text(k);  // botocore reads structure members by member name
        const Shape* item_shape = nullptr;
        if (shape->type == ShapeType::Map) {
          item_shape = shape->map_value.shape;
        } else if (const MemberRef* m = shape->member(k)) {
          item_shape = m->shape;
        }
        write(item, item_shape, w, depth + 1);
      }
      return;
    }
    case ShapeType::List:
      if (!v.is_list()) break;
      w.array(v.as_list().size());
      for (const auto& item : v.as_list()) write(item, shape->list_member.shape, w, depth + 1);
      return;
    case ShapeType::Integer:
    case ShapeType::Long:
      if (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Double || v.kind() == Value::Kind::Timestamp) {
        double d = v.as_double();
        if (v.kind() == Value::Kind::Int) {
          w.signed_int(v.as_int());
        } else if (std::isfinite(d) && std::fabs(d) < 9.2e18) {
          w.signed_int(static_cast<int64_t>(d));
        } else {
          w.float64(d);
        }
        return;
      }
      break;
    case ShapeType::Float:
    case ShapeType::Double:
    case ShapeType::BigDecimal:
      if (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Double) {
        w.float64(v.as_double());
        return;
      }
      break;
    case ShapeType::Timestamp:
      if (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Double || v.kind() == Value::Kind::Timestamp) {
        w.timestamp(v.as_double());
        return;
      }
      break;
    case ShapeType::Blob:
      if (v.kind() == Value::Kind::Blob) {
        w.bytes(v.as_blob().bytes);
        return;
      }
      if (v.is_string()) {
        w.bytes(v.as_string());
        return;
      }
      break;
    case ShapeType::String:
      if (v.kind() == Value::Kind::Blob) {
        w.text(v.as_blob().bytes);
        return;
      }
      break;
    default: break;
  }
  std::string& out = w.out();
  cbor::encode(v, out);  // kind decides
}

}  // namespace

Value cbor_value_to_shape(Value value, const Shape* shape) { return convert(std::move(value), shape, "", 0); }

void shape_value_to_cbor(const Value& value, const Shape* shape, std::string& out) {
  cbor::Writer w(out);
  write(value, shape, w, 0);
}

CborCodec::CborCodec(const ServiceModel& model) : model_(model), query_compatible_(false) {
  for (const auto& p : model.protocols)
    if (p == "query") query_compatible_ = model.protocol != "query";
}

const Operation& CborCodec::resolve_operation(const HttpRequest& request) const {
  // [prefix]/service/<ServiceName>/operation/<OperationName>
  std::string_view path = request.path;
  size_t at = path.rfind("/service/");
  const Operation* op = nullptr;
  if (at != std::string_view::npos) {
    std::string_view rest = path.substr(at + 9);
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      std::string_view service = rest.substr(0, slash);
      std::string_view tail = rest.substr(slash);
      constexpr std::string_view kOperation = "/operation/";
      if (tail.substr(0, kOperation.size()) == kOperation && service == model_.target_prefix) {
        std::string_view name = tail.substr(kOperation.size());
        if (name.find('/') == std::string_view::npos) op = model_.operation(name);
      }
    }
  }
  if (!op) throw AwsError("UnknownOperationException", "No operation matches " + std::string(path), 404);
  return *op;
}

Value CborCodec::decode_request(const HttpRequest& request, const Operation& operation) const {
  if (request.body.empty()) return Value::map();
  Value raw;
  try {
    raw = cbor::decode(request.body);
  } catch (const cbor::DecodeError& e) {
    serialization_error(e.what());
  }
  if (raw.is_null()) return Value::map();
  if (!raw.is_map()) serialization_error("Request body must be a CBOR map");
  if (!operation.input) return Value::map();
  return convert(std::move(raw), operation.input, "", 0);
}

void CborCodec::encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                                HttpResponse& response) const {
  response.status = 200;
  response.set_header("smithy-protocol", "rpc-v2-cbor");
  response.set_header("x-amzn-RequestId", context.request_id);
  response.body.clear();
  if (!operation.output) return;  // Unit output: no body
  response.set_header("Content-Type", "application/cbor");
  if (output.is_null()) {
    cbor::Writer(response.body).map(0);
  } else {
    shape_value_to_cbor(output, operation.output, response.body);
  }
}

void CborCodec::encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const {
  const Shape* shape = model_.error_shape(error.code());
  response.status = error.http_status();
  if (shape && error.http_status() == 400 && shape->http_status != 400) response.status = shape->http_status;
  bool sender = error.sender_fault() && response.status < 500;
  response.set_header("smithy-protocol", "rpc-v2-cbor");
  response.set_header("Content-Type", "application/cbor");
  response.set_header("x-amzn-RequestId", context.request_id);
  if (query_compatible_) response.set_header("x-amzn-query-error", (shape ? shape->error_code : error.code()) + (sender ? ";Sender" : ";Receiver"));
  response.body.clear();
  cbor::Writer w(response.body);
  w.map(2);
  w.text("__type");
  w.text(shape ? shape->name : error.code());
  w.text(shape && shape->member("Message") ? "Message" : "message");
  w.text(error.message());
}

}  // namespace vigil::protocol
