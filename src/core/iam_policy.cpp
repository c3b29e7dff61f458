#include "core/iam_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/encoding.h"

namespace vigil::iam {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

// Condition values may be strings, booleans or numbers; IAM compares their text.
std::optional<std::string> scalar_text(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return v.as_string();
    case Value::Kind::Bool: return std::string(v.as_bool() ? "true" : "false");
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Double: {
      std::string s = std::to_string(v.as_double());
      return s;
    }
    default: return std::nullopt;
  }
}

std::vector<std::string> condition_values(const Value& v) {
  std::vector<std::string> out;
  if (v.is_list()) {
    for (const Value& item : v.as_list())
      if (auto t = scalar_text(item)) out.push_back(*t);
  } else if (auto t = scalar_text(v)) {
    out.push_back(*t);
  }
  return out;
}

bool is_account_id(std::string_view s) {
  return s.size() == 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The operator without ForAnyValue:/ForAllValues: and IfExists; `if_exists` says whether it had it.
std::string base_operator(std::string_view op, bool& if_exists) {
  std::string_view o = op;
  for (std::string_view set : {"ForAnyValue:", "ForAllValues:"})
    if (o.size() > set.size() && iequals(o.substr(0, set.size()), set)) o.remove_prefix(set.size());
  if_exists = o.size() > 8 && o.substr(o.size() - 8) == "IfExists";
  if (if_exists) o.remove_suffix(8);
  return std::string(o);
}

constexpr std::string_view kOperators[] = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null", "BinaryEquals",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "IpAddress", "NotIpAddress"};

std::optional<double> number_of(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// An address (IPv4 or IPv6) as 16 bytes, IPv4 as ::ffff:a.b.c.d so the two families never match.
std::optional<std::array<unsigned char, 16>> address_of(std::string_view text, bool& v4) {
  std::string s(text);
  std::array<unsigned char, 16> out{};
  in_addr a4;
  if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    v4 = true;
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    return out;
  }
  in6_addr a6;
  if (::inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    v4 = false;
    std::memcpy(out.data(), &a6, 16);
    return out;
  }
  return std::nullopt;
}

// aws:SourceIp against "a.b.c.d/n", "a.b.c.d" (a /32), or IPv6 forms. Malformed: no match.
bool ip_in_range(std::string_view ip, std::string_view range) {
  size_t slash = range.find('/');
  bool range_v4 = false, ip_v4 = false;
  auto net = address_of(range.substr(0, slash), range_v4);
  auto addr = address_of(ip, ip_v4);
  if (!net || !addr) return false;
  int bits = range_v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto n = number_of(range.substr(slash + 1));
    if (!n || *n < 0 || *n > bits || *n != static_cast<int>(*n)) return false;
    bits = static_cast<int>(*n);
  }
  if (range_v4) bits += 96;  // the ::ffff: prefix always matches between IPv4 addresses
  if (range_v4 != ip_v4) return false;
  for (int i = 0; i < bits; ++i) {
    unsigned char mask = static_cast<unsigned char>(0x80 >> (i % 8));
    if (((*net)[i / 8] & mask) != ((*addr)[i / 8] & mask)) return false;
  }
  return true;
}

bool known_operator(std::string_view op) {
  bool if_exists = false;
  std::string base = base_operator(op, if_exists);
  if (base == "Null" && if_exists) return false;  // NullIfExists does not exist
  return std::find(std::begin(kOperators), std::end(kOperators), base) != std::end(kOperators);
}

// A Date operand: one of the W3C forms of ISO 8601 (a date, or a date and time with Z or an
// offset, optional fraction) or epoch seconds, as IAM accepts both in policies and for
// aws:CurrentTime / aws:EpochTime. Epoch seconds, or nullopt when neither.
std::optional<double> date_of(std::string_view text) {
  if (auto t = parse_iso8601(text)) return t;
  return number_of(text);
}

bool negated(std::string_view base) {
  return base.find("Not") != std::string_view::npos;  // StringNotEquals, ArnNotLike, NotIpAddress, ...
}

// "Equals", "LessThan", ... of the key's value against the policy's values, both read by
// `parse`. A key value that does not parse holds for no relation, negated ones included.
std::optional<bool> ordered_condition(std::string_view relation, const std::string& actual, const std::vector<std::string>& expected,
                                      std::optional<double> (*parse)(std::string_view)) {
  auto have = parse(actual);
  if (!have) return false;  // a key that is not a number (a date) matches no such condition
  auto any = [&](auto&& holds) {
    for (const std::string& e : expected)
      if (auto want = parse(e); want && holds(*have, *want)) return true;
    return false;
  };
  auto equal = [](double a, double b) { return a == b; };
  if (relation == "Equals") return any(equal);
  if (relation == "NotEquals") return !any(equal);
  if (relation == "LessThan") return any([](double a, double b) { return a < b; });
  if (relation == "LessThanEquals") return any([](double a, double b) { return a <= b; });
  if (relation == "GreaterThan") return any([](double a, double b) { return a > b; });
  if (relation == "GreaterThanEquals") return any([](double a, double b) { return a >= b; });
  return std::nullopt;
}

// One condition block entry: does it hold? nullopt when it cannot be evaluated here.
std::optional<bool> condition_holds(std::string_view op, std::string_view key, const Value& values, const Request& r) {
  bool if_exists = false;
  std::string base = base_operator(op, if_exists);
  std::optional<std::string> actual;
  std::string wanted_key = lower(key);
  for (const auto& [k, v] : r.context)
    if (lower(k) == wanted_key) actual = v;
  std::vector<std::string> expected = condition_values(values);
  if (base == "Null") {
    // "Null": "true" holds when the key is absent.
    for (const std::string& e : expected)
      if (iequals(e, "true") == !actual.has_value()) return true;
    return false;
  }
  // ForAllValues: over no values holds vacuously, as in IAM.
  constexpr std::string_view kForAll = "ForAllValues:";
  bool for_all = op.size() > kForAll.size() && iequals(op.substr(0, kForAll.size()), kForAll);
  if (!actual) return if_exists || for_all || negated(base);
  auto any = [&](auto&& match) {
    for (const std::string& e : expected)
      if (match(e)) return true;
    return false;
  };
  if (base == "StringEquals" || base == "ArnEquals") return any([&](const std::string& e) { return e == *actual; });
  if (base == "StringNotEquals" || base == "ArnNotEquals") return !any([&](const std::string& e) { return e == *actual; });
  if (base == "StringEqualsIgnoreCase") return any([&](const std::string& e) { return iequals(e, *actual); });
  if (base == "StringNotEqualsIgnoreCase") return !any([&](const std::string& e) { return iequals(e, *actual); });
  if (base == "StringLike" || base == "ArnLike") return any([&](const std::string& e) { return wildcard_match(e, *actual); });
  if (base == "StringNotLike" || base == "ArnNotLike") return !any([&](const std::string& e) { return wildcard_match(e, *actual); });
  if (base == "Bool") return any([&](const std::string& e) { return iequals(e, *actual); });
  if (base == "IpAddress") return any([&](const std::string& e) { return ip_in_range(*actual, e); });
  if (base == "NotIpAddress") return !any([&](const std::string& e) { return ip_in_range(*actual, e); });
  // Numeric* and Date*: the same relations over numbers or times (epoch seconds).
  if (base.rfind("Numeric", 0) == 0) return ordered_condition(std::string_view(base).substr(7), *actual, expected, number_of);
  if (base.rfind("Date", 0) == 0) return ordered_condition(std::string_view(base).substr(4), *actual, expected, date_of);
  // The policy holds base64; the key's value is the bytes themselves.
  if (base == "BinaryEquals") return any([&](const std::string& e) { return base64_decode(e) == *actual; });
  return std::nullopt;
}

bool principal_matches(const Value& principal, const Request& r) {
  if (principal.is_string()) return principal.as_string() == "*";
  if (!principal.is_map()) return false;
  for (const auto& [type, member] : principal.as_map()) {
    for (const std::string& p : string_list(&member)) {
      if (type == "Service") {
        if (!r.service.empty() && p == r.service) return true;
      } else if (type == "AWS") {
        if (p == "*") return true;
        if (r.account.empty()) continue;
        if (p == r.account || p == "arn:aws:iam::" + r.account + ":root") return true;
        if (!r.principal_arn.empty() && p == r.principal_arn) return true;
      }
    }
  }
  return false;
}

bool any_matches(const Value* member, std::string_view text, bool ignore_case) {
  for (const std::string& p : string_list(member))
    if (wildcard_match(p, text, ignore_case)) return true;
  return false;
}

// Whether the statement applies to the request; nullopt when a condition cannot be evaluated.
std::optional<bool> statement_applies(const Value& s, const Request& r) {
  if (const Value* p = s.get("Principal")) {
    if (!principal_matches(*p, r)) return false;
  } else if (const Value* np = s.get("NotPrincipal")) {
    if (principal_matches(*np, r)) return false;
  }
  if (s.has("Action") ? !any_matches(s.get("Action"), r.action, true) : any_matches(s.get("NotAction"), r.action, true)) return false;
  if (s.has("Resource") ? !any_matches(s.get("Resource"), r.resource, false) : any_matches(s.get("NotResource"), r.resource, false)) return false;
  const Value* conditions = s.get("Condition");
  if (!conditions || !conditions->is_map()) return true;
  bool unknown = false;
  for (const auto& [op, block] : conditions->as_map()) {
    if (!block.is_map()) return false;
    for (const auto& [key, values] : block.as_map()) {
      std::optional<bool> holds = condition_holds(op, key, values, r);
      if (!holds) unknown = true;
      else if (!*holds) return false;
    }
  }
  if (unknown) return std::nullopt;
  return true;
}

std::vector<const Value*> statements(const Value& document) {
  std::vector<const Value*> out;
  const Value* st = document.get("Statement");
  if (!st) return out;
  if (st->is_map()) out.push_back(st);
  else if (st->is_list())
    for (const Value& s : st->as_list())
      if (s.is_map()) out.push_back(&s);
  return out;
}

std::string principal_problem(const Value& principal) {
  static const std::string kInvalid = "Invalid principal in policy";
  if (principal.is_string()) return principal.as_string() == "*" ? std::string() : kInvalid;
  if (!principal.is_map() || principal.as_map().empty()) return kInvalid;
  for (const auto& [type, member] : principal.as_map()) {
    if (type != "AWS" && type != "Service" && type != "Federated" && type != "CanonicalUser") return kInvalid;
    if (!member.is_string() && !member.is_list()) return kInvalid;
    std::vector<std::string> values = string_list(&member);
    if (values.empty() || (member.is_list() && values.size() != member.as_list().size())) return kInvalid;
    for (const std::string& v : values) {
      if (type == "AWS") {
        bool arn = v.rfind("arn:aws:iam::", 0) == 0 && v.size() > 26 && is_account_id(std::string_view(v).substr(13, 12)) && v[25] == ':';
        if (v != "*" && !is_account_id(v) && !arn) return kInvalid;
      } else if (type == "Service") {
        auto ends_with = [&](std::string_view suffix) { return v.size() > suffix.size() && v.compare(v.size() - suffix.size(), suffix.size(), suffix) == 0; };
        if (!ends_with(".amazonaws.com") && !ends_with(".amazonaws.com.cn")) return kInvalid;
      } else if (v.empty()) {
        return kInvalid;
      }
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> string_list(const Value* member) {
  std::vector<std::string> out;
  if (!member) return out;
  if (member->is_string()) out.push_back(member->as_string());
  else if (member->is_list())
    for (const Value& v : member->as_list())
      if (v.is_string()) out.push_back(v.as_string());
  return out;
}

bool wildcard_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto eq = [ignore_case](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  // Iterative glob match with backtracking to the last '*': linear in practice, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && eq(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string policy_problem(const Value& document) {
  if (!document.is_map()) return "Policies must be valid JSON and the first byte must be '{'";
  for (const auto& [k, v] : document.as_map())
    if (k != "Version" && k != "Id" && k != "Statement") return "Unknown field " + k;
  if (const Value* version = document.get("Version")) {
    if (!version->is_string() || (version->as_string() != "2012-10-17" && version->as_string() != "2008-10-17"))
      return "The policy must contain a valid version string";
  }
  const Value* st = document.get("Statement");
  if (!st) return "Missing required field Statement";
  if (!st->is_map() && !(st->is_list() && !st->as_list().empty())) return "Missing required field Statement";
  std::vector<const Value*> list;
  if (st->is_map()) list.push_back(st);
  else
    for (const Value& s : st->as_list()) {
      if (!s.is_map()) return "Statement is not well formed";
      list.push_back(&s);
    }
  for (const Value* s : list) {
    for (const auto& [k, v] : s->as_map())
      if (k != "Sid" && k != "Effect" && k != "Principal" && k != "NotPrincipal" && k != "Action" && k != "NotAction" && k != "Resource" &&
          k != "NotResource" && k != "Condition")
        return "Unknown field " + k;
    const Value* effect = s->get("Effect");
    if (!effect) return "Missing required field Effect";
    if (!effect->is_string() || (effect->as_string() != "Allow" && effect->as_string() != "Deny"))
      return "Invalid effect: " + (effect->is_string() ? effect->as_string() : std::string());
    const Value* principal = s->get("Principal") ? s->get("Principal") : s->get("NotPrincipal");
    if (s->has("Principal") && s->has("NotPrincipal")) return "Statement contains both Principal and NotPrincipal";
    if (!principal) return "Missing required field Principal";
    if (std::string p = principal_problem(*principal); !p.empty()) return p;
    if (s->has("Action") && s->has("NotAction")) return "Statement contains both Action and NotAction";
    const Value* action = s->get("Action") ? s->get("Action") : s->get("NotAction");
    if (!action || string_list(action).empty()) return "Missing required field Action";
    for (const std::string& a : string_list(action)) {
      size_t colon = a.find(':');
      if (a != "*" && (colon == std::string::npos || colon == 0 || colon + 1 == a.size())) return "Policy has invalid action";
    }
    if (s->has("Resource") && s->has("NotResource")) return "Statement contains both Resource and NotResource";
    const Value* resource = s->get("Resource") ? s->get("Resource") : s->get("NotResource");
    if (!resource || string_list(resource).empty()) return "Missing required field Resource";
    if (const Value* c = s->get("Condition")) {
      if (!c->is_map()) return "Invalid Condition";
      for (const auto& [op, block] : c->as_map()) {
        if (!known_operator(op)) return "Invalid Condition type : " + op;
        if (!block.is_map() || block.as_map().empty()) return "Invalid Condition";
        for (const auto& [key, values] : block.as_map())
          if (key.empty() || (condition_values(values).empty() && !(values.is_list() && values.as_list().empty())))
            return "Invalid Condition value for key " + key;
      }
    }
  }
  return {};
}

Decision evaluate(const Value& document, const Request& request) {
  bool allowed = false;
  for (const Value* s : statements(document)) {
    bool deny = s->str("Effect") == "Deny";
    std::optional<bool> applies = statement_applies(*s, request);
    // A condition this subset cannot evaluate: a Deny counts, an Allow does not (fail closed).
    bool counts = applies ? *applies : deny;
    if (!counts) continue;
    if (deny) return Decision::Deny;
    allowed = true;
  }
  return allowed ? Decision::Allow : Decision::ImplicitDeny;
}

}  // namespace vigil::iam
