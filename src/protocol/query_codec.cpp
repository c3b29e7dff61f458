#include "protocol/query_codec.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <unordered_set>

#include "core/encoding.h"
#include "protocol/xml.h"

namespace vigil::protocol {

namespace {

constexpr size_t kMaxKeySegments = 64;  // deeper parameter names name no member of any model

// Parameters as a tree of their dotted names: "A.member.1.B=x" -> A / member / 1 / B = x.
struct Node {
  bool has_value = false;
  std::string value;
  std::map<std::string, std::unique_ptr<Node>, std::less<>> children;

  const Node* child(std::string_view name) const {
    auto it = children.find(name);
    return it == children.end() ? nullptr : it->second.get();
  }
};

void insert(Node& root, std::string_view key, const std::string& value) {
  size_t segments = static_cast<size_t>(std::count(key.begin(), key.end(), '.')) + 1;
  if (segments > kMaxKeySegments) return;
  Node* node = &root;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string_view part = key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    auto it = node->children.find(part);
    if (it == node->children.end()) it = node->children.emplace(std::string(part), std::make_unique<Node>()).first;
    node = it->second.get();
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  node->has_value = true;
  node->value = value;
}

[[noreturn]] void invalid_value(const std::string& path, std::string_view value, std::string_view expected) {
  throw AwsError("InvalidParameterValue", "Value (" + std::string(value.substr(0, 256)) + ") for parameter " + path + " is invalid. Expected: " +
                                              std::string(expected) + ".",
                 400);
}

std::string_view type_name(ShapeType t) {
  switch (t) {
    case ShapeType::Boolean: return "boolean";
    case ShapeType::Integer: return "integer";
    case ShapeType::Long: return "long";
    case ShapeType::Float: return "float";
    case ShapeType::Double:
    case ShapeType::BigDecimal: return "double";
    case ShapeType::Timestamp: return "timestamp";
    case ShapeType::Blob: return "base64 data";
    default: return "string";
  }
}

// The numbered children of a list or map node ("1", "2", ...), in index order.
std::vector<std::pair<uint32_t, const Node*>> numbered(const Node& node, const std::string& path) {
  std::vector<std::pair<uint32_t, const Node*>> out;
  for (const auto& [name, child] : node.children) {
    uint32_t index = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (ec != std::errc() || ptr != name.data() + name.size() || index == 0)
      throw AwsError("MalformedQueryString", "Invalid list index '" + name.substr(0, 64) + "' in parameter " + path, 400);
    out.emplace_back(index, child.get());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

Value convert(const Node& node, const Shape* shape, const MemberRef* ref, const std::string& path, int depth) {
  if (!shape) return Value();
  if (depth > static_cast<int>(kMaxKeySegments) + 2) throw AwsError("MalformedQueryString", "Parameter nested too deeply", 400);
  switch (shape->type) {
    case ShapeType::Structure: {
      Value out = Value::map();
      for (const auto& m : shape->members) {
        std::string_view key = member_wire_key(m);
        const Node* child = node.child(key);
        if (!child) continue;
        Value v = convert(*child, m.shape, &m, path.empty() ? std::string(key) : path + "." + std::string(key), depth + 1);
        if (!v.is_null()) out.as_map().emplace_back(m.name, std::move(v));
      }
      return out;
    }
    case ShapeType::List: {
      Value out = Value::list();
      const Node* items = &node;
      std::string items_path = path;
      if (!effective_flattened(ref, shape)) {
        std::string_view item_name = effective_name(&shape->list_member, "member");
        items = node.child(item_name);
        items_path = path + "." + std::string(item_name);
      }
      if (!items) return node.has_value && node.children.empty() ? out : Value();  // "List=" is an empty list
      for (const auto& [index, item] : numbered(*items, items_path)) {
        Value v = convert(*item, shape->list_member.shape, &shape->list_member, items_path + "." + std::to_string(index), depth + 1);
        out.as_list().push_back(std::move(v));
      }
      return out;
    }
    case ShapeType::Map: {
      Value out = Value::map();
      const Node* entries = &node;
      std::string entries_path = path;
      if (!effective_flattened(ref, shape)) {
        entries = node.child("entry");
        entries_path = path + ".entry";
      }
      if (!entries) return node.has_value && node.children.empty() ? out : Value();
      std::string_view key_name = effective_name(&shape->map_key, "key");
      std::string_view value_name = effective_name(&shape->map_value, "value");
      std::unordered_set<std::string_view> seen;
      for (const auto& [index, entry] : numbered(*entries, entries_path)) {
        std::string entry_path = entries_path + "." + std::to_string(index);
        const Node* key = entry->child(key_name);
        if (!key || !key->has_value)
          throw AwsError("MalformedQueryString", "Missing " + entry_path + "." + std::string(key_name), 400);
        const Node* value = entry->child(value_name);
        Value v = value ? convert(*value, shape->map_value.shape, &shape->map_value, entry_path + "." + std::string(value_name), depth + 1) : Value();
        if (seen.insert(key->value).second) out.as_map().emplace_back(key->value, std::move(v));  // first wins
      }
      return out;
    }
    default: {
      if (!node.has_value) return Value();
      if (shape->document) return Value(node.value);
      auto v = text_to_scalar(node.value, *shape);
      if (!v) invalid_value(path, node.value, type_name(shape->type));
      return std::move(*v);
    }
  }
}


int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether the raw name at the front of `part` (up to its first '=') percent-decodes, as
// parse_form decodes it, to `name`; compared byte by byte, without decoding into a string.
// An escape never spans the '=' (it is no hex digit), so reading escapes within `part` is
// reading them within the name.
bool name_is(std::string_view part, std::string_view name) {
  size_t matched = 0;
  for (size_t i = 0; i < part.size() && part[i] != '='; ++i) {
    char c = part[i];
    if (c == '%' && i + 2 < part.size() && hex_digit(part[i + 1]) >= 0 && hex_digit(part[i + 2]) >= 0) {
      c = static_cast<char>(hex_digit(part[i + 1]) * 16 + hex_digit(part[i + 2]));
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (matched == name.size() || name[matched] != c) return false;
    ++matched;
  }
  return matched == name.size();
}

// The raw value (still encoded) of the last parameter of the form `text` named `name` after
// decoding, as parse_form would pair them (no '=': an empty value); nullopt when none is.
// Cost: one scan for the '&'s and a comparison of each name's first bytes; nothing is copied.
std::optional<std::string_view> last_raw_value(std::string_view text, std::string_view name) {
  std::optional<std::string_view> found;
  size_t start = 0;
  while (start < text.size()) {
    size_t amp = text.find('&', start);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view part = text.substr(start, amp - start);
    if (name_is(part, name)) {
      size_t eq = part.find('=');
      found = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    }
    start = amp + 1;
  }
  return found;
}

// Whether request_params reads the body as a form.
bool body_is_form(const HttpRequest& request) {
  std::string_view content_type = request.header("content-type");
  return !request.body.empty() && (content_type.empty() || content_type.find("x-www-form-urlencoded") != std::string_view::npos);
}

void append_namespace_attr(std::string& out, const std::string& ns) {
  if (ns.empty()) return;
  out += " xmlns=\"";
  out += xml_escape(ns);
  out += '"';
}

}  // namespace

FormParams parse_form(std::string_view text) {
  FormParams out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t amp = text.find('&', start);
    std::string_view part = text.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(percent_decode(part, true), std::string());
      } else {
        out.emplace_back(percent_decode(part.substr(0, eq), true), percent_decode(part.substr(eq + 1), true));
      }
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

Value query_params_to_value(const FormParams& params, const Shape* shape) {
  if (!shape) return Value::map();
  Node root;
  for (const auto& [key, value] : params) {
    if (key == "Action" || key == "Version" || key.empty()) continue;
    insert(root, key, value);
  }
  Value v = convert(root, shape, nullptr, "", 0);
  return v.is_null() ? Value::map() : v;
}

QueryCodec::QueryCodec(const ServiceModel& model) : model_(model) {}

FormParams QueryCodec::request_params(const HttpRequest& request) {
  FormParams params = parse_form(request.query);
  if (body_is_form(request)) {
    FormParams body = parse_form(request.body);
    params.insert(params.end(), std::make_move_iterator(body.begin()), std::make_move_iterator(body.end()));
  }
  return params;
}

const Operation& QueryCodec::resolve_operation(const HttpRequest& request) const {
  // The last Action of request_params (the query string's, then the body's), found without
  // building the parameter list: a 1 000-datum PutMetricData body is ~6 000 pairs, and
  // decode_request (or a raw handler) reads them once more anyway.
  std::optional<std::string_view> raw = last_raw_value(request.query, "Action");
  if (body_is_form(request)) {
    if (auto in_body = last_raw_value(request.body, "Action")) raw = in_body;
  }
  std::string action = raw ? percent_decode(*raw, true) : std::string();
  if (action.empty()) throw AwsError("MissingAction", "Missing Action", 400);
  const Operation* op = model_.operation(action);
  if (!op) {
    throw AwsError("InvalidAction", "Could not find operation " + action.substr(0, 128) + " for version " + model_.api_version, 400);
  }
  return *op;
}

Value QueryCodec::decode_request(const HttpRequest& request, const Operation& operation) const {
  return query_params_to_value(request_params(request), operation.input);
}

void QueryCodec::encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                                 HttpResponse& response) const {
  response.status = 200;
  response.set_header("Content-Type", "text/xml");
  response.set_header("x-amzn-RequestId", context.request_id);
  std::string& out = response.body;
  out.clear();
  out += '<';
  out += operation.name;
  out += "Response";
  append_namespace_attr(out, model_.xml_namespace);
  out += '>';
  XmlWriteOptions options;
  options.skip_http_members = false;
  if (operation.output) {
    if (!operation.result_wrapper.empty()) {
      out += '<';
      out += operation.result_wrapper;
      out += '>';
    }
    write_xml_members(out, output, *operation.output, options);
    if (!operation.result_wrapper.empty()) {
      out += "</";
      out += operation.result_wrapper;
      out += '>';
    }
  }
  out += "<ResponseMetadata>";
  append_xml_element(out, "RequestId", context.request_id);
  out += "</ResponseMetadata></";
  out += operation.name;
  out += "Response>";
}

void QueryCodec::encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const {
  const Shape* shape = model_.error_shape(error.code());
  response.status = error.http_status();
  if (shape && error.http_status() == 400 && shape->http_status != 400) response.status = shape->http_status;
  bool sender = error.sender_fault() && response.status < 500;
  response.set_header("Content-Type", "text/xml");
  response.set_header("x-amzn-RequestId", context.request_id);
  std::string& out = response.body;
  out.clear();
  out += "<ErrorResponse";
  append_namespace_attr(out, model_.xml_namespace);
  out += "><Error>";
  append_xml_element(out, "Type", sender ? "Sender" : "Receiver");
  append_xml_element(out, "Code", shape ? shape->error_code : error.code());
  append_xml_element(out, "Message", error.message());
  out += "</Error>";
  append_xml_element(out, "RequestId", context.request_id);
  out += "</ErrorResponse>";
}

}  // namespace vigil::protocol
