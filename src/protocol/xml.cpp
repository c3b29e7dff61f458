#include "protocol/xml.h"

#include <pugixml.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <vector>

#include "core/aws_error.h"
#include "core/encoding.h"

namespace vigil::protocol {

namespace {

constexpr int kMaxWriteDepth = 100;


// The prefix a structure's xmlAttribute members use ("xsi" for S3's xsi:type), if any.
std::string_view attribute_prefix(const Shape* shape) {
  if (!shape) return {};
  for (const auto& m : shape->members) {
    if (!m.xml_attribute) continue;
    std::string_view name = effective_name(&m, m.name);
    size_t colon = name.find(':');
    if (colon != std::string_view::npos && name.substr(0, colon) != "xml" && name.substr(0, colon) != "xmlns") return name.substr(0, colon);
  }
  return {};
}

// xmlns declarations of an element. The compact schema keeps only the URI of a shape-level
// namespace, so its prefix is recovered from the attributes that use it (S3 Grantee is
// xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser").
void append_namespace(std::string& out, const MemberRef* ref, const Shape* shape) {
  if (ref && !ref->xml_namespace_uri.empty()) {
    out += ref->xml_namespace_prefix.empty() ? " xmlns" : " xmlns:";
    out += ref->xml_namespace_prefix;
    out += "=\"";
    out += xml_escape(ref->xml_namespace_uri);
    out += '"';
  } else if (shape && !shape->xml_namespace_uri.empty()) {
    std::string_view prefix = attribute_prefix(shape);
    out += prefix.empty() ? " xmlns" : " xmlns:";
    out += prefix;
    out += "=\"";
    out += xml_escape(shape->xml_namespace_uri);
    out += '"';
  }
}

void write_generic(std::string& out, const Value& value, std::string_view name, const XmlWriteOptions& options, int depth) {
  if (depth > kMaxWriteDepth) throw internal_error("response nested too deeply");
  switch (value.kind()) {
    case Value::Kind::Null: return;
    case Value::Kind::Map:
      out += '<';
      out += name;
      out += '>';
      for (const auto& [k, v] : value.as_map()) write_generic(out, v, k, options, depth + 1);
      out += "</";
      out += name;
      out += '>';
      return;
    case Value::Kind::List:
      out += '<';
      out += name;
      out += '>';
      for (const auto& v : value.as_list()) write_generic(out, v, "member", options, depth + 1);
      out += "</";
      out += name;
      out += '>';
      return;
    default: append_xml_element(out, name, scalar_to_text(value, nullptr, options.default_timestamp_format));
  }
}

// ---- reading ----------------------------------------------------------------------------

[[noreturn]] void read_error(const XmlReadOptions& options, const std::string& message) { throw AwsError(options.error_code, message, 400); }

std::string node_text(const pugi::xml_node& node) {
  std::string text;
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling())
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) text += child.value();
  return text;
}

bool has_element_children(const pugi::xml_node& node) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling())
    if (child.type() == pugi::node_element) return true;
  return false;
}

Value read_value(const std::vector<pugi::xml_node>& nodes, const Shape* shape, const MemberRef* ref, const XmlReadOptions& options,
                 int depth);

Value read_scalar(const pugi::xml_node& node, const Shape& shape, const XmlReadOptions& options) {
  std::string text = node_text(node);
  if (text.empty() && shape.type != ShapeType::String) return Value();
  auto v = text_to_scalar(text, shape);
  if (!v) read_error(options, "Invalid value for element " + std::string(xml_local_name(node.name())));
  return std::move(*v);
}

Value read_item(const pugi::xml_node& node, const Shape* shape, const MemberRef* ref, const XmlReadOptions& options, int depth) {
  std::vector<pugi::xml_node> one{node};
  return read_value(one, shape, ref, options, depth);
}

void read_map_entry_into(Value& out, const pugi::xml_node& entry, const Shape& shape, const XmlReadOptions& options, int depth) {
  std::string_view key_name = effective_name(&shape.map_key, "key");
  std::string_view value_name = effective_name(&shape.map_value, "value");
  std::optional<std::string> key;
  pugi::xml_node value_node;
  for (pugi::xml_node child = entry.first_child(); child; child = child.next_sibling()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view local = xml_local_name(child.name());
    if (local == key_name) key = node_text(child);
    else if (local == value_name) value_node = child;
  }
  if (!key) read_error(options, "Map entry without a key");
  Value v = value_node ? read_item(value_node, shape.map_value.shape, &shape.map_value, options, depth + 1) : Value();
  out.as_map().emplace_back(std::move(*key), std::move(v));
}

Value read_value(const std::vector<pugi::xml_node>& nodes, const Shape* shape, const MemberRef* ref, const XmlReadOptions& options,
                 int depth) {
  if (depth > options.max_depth) read_error(options, "XML nested too deeply");
  if (nodes.empty() || !shape) return Value();
  switch (shape->type) {
    case ShapeType::Structure: return read_xml_structure(nodes.front(), *shape, options, depth + 1);
    case ShapeType::List: {
      Value out = Value::list();
      const MemberRef& item = shape->list_member;
      if (effective_flattened(ref, shape)) {
        for (const auto& n : nodes) out.as_list().push_back(read_item(n, item.shape, &item, options, depth + 1));
      } else {
        for (pugi::xml_node child = nodes.front().first_child(); child; child = child.next_sibling())
          if (child.type() == pugi::node_element) out.as_list().push_back(read_item(child, item.shape, &item, options, depth + 1));
      }
      return out;
    }
    case ShapeType::Map: {
      Value out = Value::map();
      if (effective_flattened(ref, shape)) {
        for (const auto& n : nodes) read_map_entry_into(out, n, *shape, options, depth + 1);
      } else {
        for (pugi::xml_node child = nodes.front().first_child(); child; child = child.next_sibling())
          if (child.type() == pugi::node_element) read_map_entry_into(out, child, *shape, options, depth + 1);
      }
      return out;
    }
    case ShapeType::Document: return Value(node_text(nodes.front()));
    default:
      if (has_element_children(nodes.front())) read_error(options, "Unexpected element content in " + std::string(xml_local_name(nodes.front().name())));
      return read_scalar(nodes.front(), *shape, options);
  }
}

}  // namespace

// ---- traits --------------------------------------------------------------------------------

std::string_view effective_name(const MemberRef* ref, std::string_view fallback) {
  if (ref) {
    if (!ref->location_name.empty()) return ref->location_name;
    if (ref->shape && !ref->shape->location_name.empty()) return ref->shape->location_name;
  }
  return fallback;
}

std::string_view member_wire_key(const MemberRef& m) {
  if (m.shape && m.shape->type == ShapeType::List && effective_flattened(&m, m.shape)) {
    std::string_view item = effective_name(&m.shape->list_member, "");
    if (!item.empty()) return item;
  }
  return effective_name(&m, m.name);
}

bool effective_flattened(const MemberRef* ref, const Shape* shape) { return (ref && ref->flattened) || (shape && shape->flattened); }

std::string_view effective_timestamp_format(const MemberRef* ref, const Shape* shape, std::string_view fallback) {
  if (ref && !ref->timestamp_format.empty()) return ref->timestamp_format;
  if (shape && !shape->timestamp_format.empty()) return shape->timestamp_format;
  return fallback;
}

// ---- scalars -------------------------------------------------------------------------------

std::string format_iso8601_ms(double epoch_seconds) {
  if (!std::isfinite(epoch_seconds)) epoch_seconds = 0;
  double whole = std::floor(epoch_seconds);
  long long millis = std::llround((epoch_seconds - whole) * 1000);
  if (millis >= 1000) {
    millis -= 1000;
    whole += 1;
  }
  time_t t = static_cast<time_t>(whole);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[128];  // room for any value the compiler cannot rule out
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, millis);
  return buf;
}

std::string format_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d)) + ".0";
  char buf[96];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

std::string format_timestamp(double epoch_seconds, std::string_view format) {
  if (format == "rfc822") return format_rfc822(epoch_seconds);
  if (format == "unixTimestamp") return format_epoch_number(epoch_seconds);
  return format_iso8601_ms(epoch_seconds);
}

bool is_scalar(const Shape& shape) {
  switch (shape.type) {
    case ShapeType::Structure:
    case ShapeType::List:
    case ShapeType::Map: return false;
    default: return !shape.document;
  }
}

std::string scalar_to_text(const Value& value, const Shape* shape, std::string_view timestamp_format) {
  ShapeType type = shape ? shape->type : ShapeType::String;
  switch (value.kind()) {
    case Value::Kind::Null: return {};
    case Value::Kind::Bool: return value.as_bool() ? "true" : "false";
    case Value::Kind::String:
      if (type == ShapeType::Blob) return base64_encode(value.as_string());
      return value.as_string();
    case Value::Kind::Blob:
      if (shape && type == ShapeType::String) return value.as_blob().bytes;
      return base64_encode(value.as_blob().bytes);
    case Value::Kind::Timestamp: return format_timestamp(value.as_double(), timestamp_format);
    case Value::Kind::Int:
      if (type == ShapeType::Timestamp) return format_timestamp(value.as_double(), timestamp_format);
      if (type == ShapeType::Float || type == ShapeType::Double) return format_double(value.as_double());
      if (type == ShapeType::Boolean) return value.as_int() ? "true" : "false";
      return std::to_string(value.as_int());
    case Value::Kind::Double:
      if (type == ShapeType::Timestamp) return format_timestamp(value.as_double(), timestamp_format);
      if (type == ShapeType::Integer || type == ShapeType::Long) {
        double d = value.as_double();
        if (std::isfinite(d) && std::fabs(d) < 9.2e18) return std::to_string(static_cast<long long>(d));
      }
      return format_double(value.as_double());
    case Value::Kind::List:
    case Value::Kind::Map: return {};
  }
  return {};
}

std::optional<Value> text_to_scalar(std::string_view text, const Shape& shape) {
  switch (shape.type) {
    case ShapeType::String: return Value(text);
    case ShapeType::Boolean:
      if (equals_ignore_case(text, "true")) return Value(true);
      if (equals_ignore_case(text, "false")) return Value(false);
      return std::nullopt;
    case ShapeType::Integer:
    case ShapeType::Long: {
      int64_t v = 0;
      const char* begin = text.data();
      const char* end = text.data() + text.size();
      if (!text.empty() && *begin == '+') ++begin;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
      if (shape.type == ShapeType::Integer && (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()))
        return std::nullopt;
      return Value(v);
    }
    case ShapeType::Float:
    case ShapeType::Double:
    case ShapeType::BigDecimal: {
      if (text == "NaN") return Value(std::numeric_limits<double>::quiet_NaN());
      if (text == "Infinity") return Value(std::numeric_limits<double>::infinity());
      if (text == "-Infinity") return Value(-std::numeric_limits<double>::infinity());
      if (text.empty() || text.size() > 400) return std::nullopt;
      std::string copy(text);
      char* end = nullptr;
      double d = std::strtod(copy.c_str(), &end);
      if (end != copy.c_str() + copy.size() || !std::isfinite(d)) return std::nullopt;
      return Value(d);
    }
    case ShapeType::Timestamp: {
      if (text.size() > 64) return std::nullopt;
      auto t = parse_any_timestamp(text);
      if (!t || !std::isfinite(*t)) return std::nullopt;
      return Value(Timestamp{*t});
    }
    case ShapeType::Blob: {
      auto bytes = base64_decode(text);
      if (!bytes) return std::nullopt;
      return Value(Blob{std::move(*bytes)});
    }
    default: return std::nullopt;
  }
}

// ---- writing -----------------------------------------------------------------------------

void append_xml_element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  out += xml_escape(text);
  out += "</";
  out += name;
  out += '>';
}

void write_xml_member(std::string& out, const Value& value, const Shape* shape, const MemberRef* ref, std::string_view name,
                      const XmlWriteOptions& options, int depth) {
  if (value.is_null()) return;
  if (depth > kMaxWriteDepth) throw internal_error("response nested too deeply");
  if (!shape || shape->document) return write_generic(out, value, name, options, depth);
  switch (shape->type) {
    case ShapeType::Structure: {
      if (!value.is_map()) return;
      out += '<';
      out += name;
      append_namespace(out, ref, shape);
      for (const auto& m : shape->members) {
        if (!m.xml_attribute) continue;
        const Value* v = value.get(m.name);
        if (!v || v->is_null()) continue;
        out += ' ';
        out += effective_name(&m, m.name);
        out += "=\"";
        out += xml_escape(scalar_to_text(*v, m.shape, effective_timestamp_format(&m, m.shape, options.default_timestamp_format)));
        out += '"';
      }
      out += '>';
      write_xml_members(out, value, *shape, options, depth + 1);
      out += "</";
      out += name;
      out += '>';
      return;
    }
    case ShapeType::List: {
      if (!value.is_list()) return;
      const MemberRef& item = shape->list_member;
      if (effective_flattened(ref, shape)) {
        for (const auto& v : value.as_list()) write_xml_member(out, v, item.shape, &item, name, options, depth + 1);
        return;
      }
      std::string_view item_name = effective_name(&item, "member");
      out += '<';
      out += name;
      append_namespace(out, ref, nullptr);
      out += '>';
      for (const auto& v : value.as_list()) write_xml_member(out, v, item.shape, &item, item_name, options, depth + 1);
      out += "</";
      out += name;
      out += '>';
      return;
    }
    case ShapeType::Map: {
      if (!value.is_map()) return;
      std::string_view key_name = effective_name(&shape->map_key, "key");
      std::string_view value_name = effective_name(&shape->map_value, "value");
      bool flat = effective_flattened(ref, shape);
      if (!flat) {
        out += '<';
        out += name;
        append_namespace(out, ref, nullptr);
        out += '>';
      }
      for (const auto& [k, v] : value.as_map()) {
        std::string_view entry = flat ? name : std::string_view("entry");
        out += '<';
        out += entry;
        out += '>';
        append_xml_element(out, key_name, k);
        write_xml_member(out, v, shape->map_value.shape, &shape->map_value, value_name, options, depth + 1);
        out += "</";
        out += entry;
        out += '>';
      }
      if (!flat) {
        out += "</";
        out += name;
        out += '>';
      }
      return;
    }
    default: {
      if (value.is_map() || value.is_list()) return;
      out += '<';
      out += name;
      append_namespace(out, ref, nullptr);
      out += '>';
      out += xml_escape(scalar_to_text(value, shape, effective_timestamp_format(ref, shape, options.default_timestamp_format)));
      out += "</";
      out += name;
      out += '>';
    }
  }
}

void write_xml_members(std::string& out, const Value& value, const Shape& shape, const XmlWriteOptions& options, int depth) {
  if (!value.is_map()) return;
  for (const auto& m : shape.members) {
    if (m.xml_attribute) continue;
    if (options.skip_http_members && !m.location.empty()) continue;
    const Value* v = value.get(m.name);
    if (!v || v->is_null()) continue;
    write_xml_member(out, *v, m.shape, &m, member_wire_key(m), options, depth + 1);
  }
}

void write_xml_structure(std::string& out, const Value& value, const Shape& shape, std::string_view name, std::string_view xml_namespace,
                         const XmlWriteOptions& options, int depth) {
  out += '<';
  out += name;
  if (!xml_namespace.empty()) {
    out += " xmlns=\"";
    out += xml_escape(xml_namespace);
    out += '"';
  } else {
    append_namespace(out, nullptr, &shape);
  }
  for (const auto& m : shape.members) {
    if (!m.xml_attribute) continue;
    const Value* v = value.get(m.name);
    if (!v || v->is_null()) continue;
    out += ' ';
    out += effective_name(&m, m.name);
    out += "=\"";
    out += xml_escape(scalar_to_text(*v, m.shape, effective_timestamp_format(&m, m.shape, options.default_timestamp_format)));
    out += '"';
  }
  size_t before = out.size();
  out += '>';
  write_xml_members(out, value, shape, options, depth);
  if (out.size() == before + 1) {
    out.back() = '/';
    out += '>';
    return;
  }
  out += "</";
  out += name;
  out += '>';
}

// ---- reading -------------------------------------------------------------------------------

std::string_view xml_local_name(std::string_view qualified) {
  size_t colon = qualified.find(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

Value read_xml_structure(const pugi::xml_node& node, const Shape& shape, const XmlReadOptions& options, int depth) {
  if (depth > options.max_depth) read_error(options, "XML nested too deeply");
  struct Slot {
    const MemberRef* member;
    std::string_view key;
    bool collect_all;
    std::vector<pugi::xml_node> nodes;
    Value value;  // attribute members
  };
  std::vector<Slot> slots;
  slots.reserve(shape.members.size());
  for (const auto& m : shape.members) {
    if (options.skip_http_members && !m.location.empty()) continue;
    Slot slot{&m, member_wire_key(m), false, {}, Value()};
    if (m.xml_attribute) {
      std::string_view attr_name = effective_name(&m, m.name);
      for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
        std::string_view an = a.name();
        if (an != attr_name && xml_local_name(an) != xml_local_name(attr_name)) continue;
        if (!m.shape || !is_scalar(*m.shape)) break;
        auto v = text_to_scalar(a.value(), *m.shape);
        if (!v) read_error(options, "Invalid value for attribute " + std::string(attr_name));
        slot.value = std::move(*v);
        break;
      }
      slot.key = {};  // never matches an element
    } else {
      slot.collect_all = m.shape && (m.shape->type == ShapeType::List || m.shape->type == ShapeType::Map) && effective_flattened(&m, m.shape);
    }
    slots.push_back(std::move(slot));
  }
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view local = xml_local_name(child.name());
    for (auto& slot : slots) {
      if (slot.key.empty() || slot.key != local) continue;
      if (slot.collect_all || slot.nodes.empty()) slot.nodes.push_back(child);
      break;
    }
  }
  Value out = Value::map();
  for (auto& slot : slots) {
    if (!slot.nodes.empty()) slot.value = read_value(slot.nodes, slot.member->shape, slot.member, options, depth + 1);
    if (!slot.value.is_null()) out.as_map().emplace_back(slot.member->name, std::move(slot.value));
  }
  return out;
}

Value parse_xml_body(std::string_view body, const Shape& shape, const XmlReadOptions& options) {
  pugi::xml_document doc;
  pugi::xml_parse_result result =
      doc.load_buffer(body.data(), body.size(), pugi::parse_default | pugi::parse_ws_pcdata_single, pugi::encoding_utf8);
  if (!result) read_error(options, "The XML you provided was not well-formed or did not validate against our published schema");
  pugi::xml_node root = doc.document_element();
  if (!root) read_error(options, "The XML you provided was not well-formed or did not validate against our published schema");
  return read_xml_structure(root, shape, options, 0);
}

}  // namespace vigil::protocol
