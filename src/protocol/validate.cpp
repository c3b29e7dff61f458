#include "protocol/validate.h"

#include <re2/re2.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "core/aws_error.h"

namespace vigil::protocol {

namespace {

// Model patterns are Java regexes; RE2 accepts nearly all of them. A pattern RE2 rejects is
// skipped rather than failing requests. Compiled once per pattern (cost: one hash lookup).
const RE2* compiled_pattern(const std::string& pattern) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::unique_ptr<RE2>> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second.get();
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>("(?s:" + pattern + ")", options);
  const RE2* raw = re->ok() ? re.get() : nullptr;
  cache.emplace(pattern, raw ? std::move(re) : nullptr);
  return raw;
}

std::string quoted(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return "'" + v.as_string() + "'";
    case Value::Kind::Int: return "'" + std::to_string(v.as_int()) + "'";
    case Value::Kind::Double: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v.as_double());
      return std::string("'") + buf + "'";
    }
    default: return "'...'";
  }
}

std::string format_number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  return buf;
}

// Where a value sits ("MetricData.3.member.Dimensions"), as a chain of stack frames: the
// string is only built for a violation, not for each of the thousands of members of a big,
// valid request (that building was a visible share of a 1 000-datum PutMetricData).
struct Path {
  const Path* parent = nullptr;
  std::string_view name;  // member name, map key, or "key"
  size_t index = 0;       // list position (1-based) when name is empty
  void append_to(std::string& out) const {
    if (parent) {
      parent->append_to(out);
      if (!out.empty()) out += '.';
    }
    if (!name.empty()) out += name;
    else if (index) out += std::to_string(index) + ".member";
  }
  std::string str() const {
    std::string out;
    append_to(out);
    return out;
  }
};

void check(const Value& v, const Shape& shape, const Path& path, std::vector<std::string>& out, int depth) {
  if (depth > 32 || v.is_null()) return;
  auto fail = [&](const std::string& constraint) {
    out.push_back("Value " + quoted(v) + " at '" + path.str() + "' failed to satisfy constraint: " + constraint);
  };
  switch (shape.type) {
    case ShapeType::Structure: {
      for (const auto& member : shape.members) {
        const Path child{&path, member.name, 0};
        const Value* mv = v.get(member.name);
        if (!mv || mv->is_null()) {
          if (member.required) out.push_back("Value null at '" + child.str() + "' failed to satisfy constraint: Member must not be null");
          continue;
        }
        check(*mv, *member.shape, child, out, depth + 1);
      }
      return;
    }
    case ShapeType::List: {
      if (!v.is_list()) return;
      size_t n = v.as_list().size();
      if (shape.min && n < *shape.min) fail("Member must have length greater than or equal to " + format_number(*shape.min));
      if (shape.max && n > *shape.max) fail("Member must have length less than or equal to " + format_number(*shape.max));
      size_t i = 0;
      for (const auto& item : v.as_list()) check(item, *shape.list_member.shape, Path{&path, {}, ++i}, out, depth + 1);
      return;
    }
    case ShapeType::Map: {
      if (!v.is_map()) return;
      size_t n = v.as_map().size();
      if (shape.min && n < *shape.min) fail("Member must have length greater than or equal to " + format_number(*shape.min));
      if (shape.max && n > *shape.max) fail("Member must have length less than or equal to " + format_number(*shape.max));
      for (const auto& [k, item] : v.as_map()) {
        check(Value(k), *shape.map_key.shape, Path{&path, "key", 0}, out, depth + 1);
        check(item, *shape.map_value.shape, Path{&path, k, 0}, out, depth + 1);
      }
      return;
    }
    case ShapeType::String: {
      if (!v.is_string()) return;
      const std::string& s = v.as_string();
      // Lengths count characters (code points), as AWS does.
      size_t chars = 0;
      for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
      if (shape.min && chars < *shape.min) fail("Member must have length greater than or equal to " + format_number(*shape.min));
      if (shape.max && chars > *shape.max) fail("Member must have length less than or equal to " + format_number(*shape.max));
      if (!shape.enum_values.empty()) {
        bool known = false;
        for (const auto& e : shape.enum_values) known = known || e == s;
        if (!known) {
          std::string set;
          for (const auto& e : shape.enum_values) set += (set.empty() ? "" : ", ") + e;
          fail("Member must satisfy enum value set: [" + set + "]");
        }
      }
      if (!shape.pattern.empty() && !s.empty()) {
        if (const RE2* re = compiled_pattern(shape.pattern); re && !RE2::FullMatch(s, *re))
          fail("Member must satisfy regular expression pattern: " + shape.pattern);
      }
      return;
    }
    case ShapeType::Integer:
    case ShapeType::Long:
    case ShapeType::Float:
    case ShapeType::Double: {
      if (v.kind() != Value::Kind::Int && v.kind() != Value::Kind::Double) return;
      double d = v.as_double();
      if (shape.min && d < *shape.min) fail("Member must have value greater than or equal to " + format_number(*shape.min));
      if (shape.max && d > *shape.max) fail("Member must have value less than or equal to " + format_number(*shape.max));
      if (!shape.enum_values.empty()) {
        // intEnum: not used by the services served today; accept.
      }
      return;
    }
    case ShapeType::Blob: {
      if (v.kind() != Value::Kind::Blob) return;
      size_t n = v.as_blob().bytes.size();
      if (shape.min && n < *shape.min) fail("Member must have length greater than or equal to " + format_number(*shape.min));
      if (shape.max && n > *shape.max) fail("Member must have length less than or equal to " + format_number(*shape.max));
      return;
    }
    default: return;
  }
}

}  // namespace

std::vector<std::string> find_violations(const Value& input, const Shape& shape) {
  std::vector<std::string> out;
  check(input, shape, Path{}, out, 0);
  return out;
}

void validate_input(const Value& input, const Shape* shape, const std::string& error_code) {
  if (!shape) return;
  auto violations = find_violations(input, *shape);
  if (violations.empty()) return;
  std::string message = std::to_string(violations.size()) + (violations.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (size_t i = 0; i < violations.size(); ++i) message += (i ? "; " : "") + violations[i];
  throw AwsError(error_code, message, 400);
}

}  // namespace vigil::protocol
