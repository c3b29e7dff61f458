#include "services/cloudwatch/alarm_rule.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <unordered_set>

namespace vigil::cloudwatch {
namespace {

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Java-style UTC rendering used by CloudWatch in reason texts.
std::tm utc_tm(int64_t ms) {
  std::time_t t = static_cast<std::time_t>((ms >= 0 ? ms : ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string json_timestamp(int64_t ms) {
  std::tm tm = utc_tm(ms);
  char buf[48];
  int milli = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

void json_escape(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
}

}  // namespace

// Recursive-descent parser over the raw text; positions in errors are 0-based offsets.
class RuleParser {
 public:
  RuleParser(std::string_view text, AlarmRule& rule) : s_(text), r_(rule) {}

  void run() {
    r_.root_ = parse_or(0);
    skip_ws();
    if (i_ < s_.size()) fail("unexpected '" + token_preview() + "'");
    if (elements_ > AlarmRule::kMaxElements)
      fail("the rule has more than " + std::to_string(AlarmRule::kMaxElements) + " elements");
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw RuleError{"Invalid AlarmRule: " + what + " at position " + std::to_string(i_) + "."};
  }

  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  std::string token_preview() const {
    size_t end = i_;
    while (end < s_.size() && end - i_ < 20 && !std::isspace(static_cast<unsigned char>(s_[end]))) ++end;
    return std::string(s_.substr(i_, end - i_ ? end - i_ : 1));
  }

  // Reads a keyword (identifier) at i_ without consuming it.
  std::string_view peek_word() const {
    size_t j = i_;
    while (j < s_.size() && is_word_char(s_[j])) ++j;
    return s_.substr(i_, j - i_);
  }

  bool accept_word(std::string_view kw) {
    skip_ws();
    std::string_view w = peek_word();
    if (!ieq(w, kw)) return false;
    i_ += w.size();
    return true;
  }

  uint32_t add(AlarmRule::Node n) {
    r_.nodes_.push_back(n);
    return static_cast<uint32_t>(r_.nodes_.size() - 1);
  }

  void enter() {
    if (++depth_ > AlarmRule::kMaxDepth) fail("the rule is nested too deeply");
  }

  uint32_t parse_or(int) {
    enter();
    uint32_t lhs = parse_and();
    while (accept_word("OR")) {
      uint32_t rhs = parse_and();
      lhs = add({AlarmRule::Kind::Or, 0, 0, lhs, rhs});
    }
    --depth_;
    return lhs;
  }

  uint32_t parse_and() {
    uint32_t lhs = parse_not();
    while (accept_word("AND")) {
      uint32_t rhs = parse_not();
      lhs = add({AlarmRule::Kind::And, 0, 0, lhs, rhs});
    }
    return lhs;
  }

  uint32_t parse_not() {
    if (accept_word("NOT")) {
      enter();
      uint32_t inner = parse_not();
      --depth_;
      return add({AlarmRule::Kind::Not, 0, 0, inner, 0});
    }
    return parse_primary();
  }

  uint32_t parse_primary() {
    skip_ws();
    if (i_ >= s_.size()) fail("unexpected end of rule, expected an alarm function, TRUE or FALSE");
    if (s_[i_] == '(') {
      ++i_;
      ++elements_;  // a pair of parentheses is one element
      uint32_t inner = parse_or(0);
      skip_ws();
      if (i_ >= s_.size() || s_[i_] != ')') fail("missing ')'");
      ++i_;
      return inner;
    }
    std::string_view w = peek_word();
    if (w.empty()) fail("unexpected '" + token_preview() + "'");
    if (ieq(w, "TRUE") || ieq(w, "FALSE")) {
      i_ += w.size();
      ++elements_;
      return add({ieq(w, "TRUE") ? AlarmRule::Kind::True : AlarmRule::Kind::False, 0, 0, 0, 0});
    }
    uint8_t state;
    if (ieq(w, "ALARM")) state = 0;
    else if (ieq(w, "OK")) state = 1;
    else if (ieq(w, "INSUFFICIENT_DATA")) state = 2;
    else fail("unknown function '" + std::string(w) + "', expected ALARM, OK, INSUFFICIENT_DATA, TRUE or FALSE");
    i_ += w.size();
    skip_ws();
    if (i_ >= s_.size() || s_[i_] != '(') fail("expected '(' after " + std::string(w));
    ++i_;
    std::string name = parse_name();
    skip_ws();
    if (i_ >= s_.size() || s_[i_] != ')') fail("missing ')' after alarm name");
    ++i_;
    ++elements_;
    if (++children_ > AlarmRule::kMaxChildAlarms)
      fail("the rule references more than " + std::to_string(AlarmRule::kMaxChildAlarms) + " alarms");
    r_.refs_.push_back(std::move(name));
    return add({AlarmRule::Kind::StateIs, state, static_cast<uint32_t>(r_.refs_.size() - 1), 0, 0});
  }

  std::string parse_name() {
    skip_ws();
    std::string name;
    if (i_ < s_.size() && s_[i_] == '"') {
      ++i_;
      while (true) {
        if (i_ >= s_.size()) fail("unterminated quoted alarm name");
        char c = s_[i_++];
        if (c == '"') break;
        if (c == '\\' && i_ < s_.size()) c = s_[i_++];
        name += c;
      }
    } else {
      // Bare names run to the closing parenthesis; surrounding blanks are not part of them.
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ')' && s_[i_] != '(') ++i_;
      std::string_view raw = s_.substr(start, i_ - start);
      while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
      name = std::string(raw);
    }
    if (name.empty()) fail("empty alarm name");
    return name;
  }

  std::string_view s_;
  AlarmRule& r_;
  size_t i_ = 0;
  size_t depth_ = 0;
  size_t elements_ = 0;
  size_t children_ = 0;
};

AlarmRule AlarmRule::parse(std::string_view text) {
  if (text.size() > kMaxLength)
    throw RuleError{"1 validation error detected: Value at 'alarmRule' failed to satisfy constraint: "
                    "Member must have length less than or equal to 10240"};
  bool blank = true;
  for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
  if (blank)
    throw RuleError{"Invalid AlarmRule: the rule must contain at least one alarm function, TRUE or FALSE."};
  AlarmRule rule;
  rule.nodes_.reserve(16);
  RuleParser(text, rule).run();
  return rule;
}

std::vector<std::string> AlarmRule::referenced_alarms() const {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;
  for (const auto& r : refs_)
    if (seen.insert(r).second) out.push_back(r);
  return out;
}

bool AlarmRule::evaluate(const std::function<std::string(std::string_view)>& state_of) const {
  if (nodes_.empty()) return false;
  return eval(root_, state_of);
}

bool AlarmRule::eval(uint32_t n, const std::function<std::string(std::string_view)>& state_of) const {
  const Node& node = nodes_[n];
  switch (node.kind) {
    case Kind::True: return true;
    case Kind::False: return false;
    case Kind::StateIs: {
      static constexpr std::string_view kStates[] = {"ALARM", "OK", "INSUFFICIENT_DATA"};
      return state_of(refs_[node.ref]) == kStates[node.state];
    }
    case Kind::Not: return !eval(node.lhs, state_of);
    case Kind::And: return eval(node.lhs, state_of) && eval(node.rhs, state_of);
    case Kind::Or: return eval(node.lhs, state_of) || eval(node.rhs, state_of);
  }
  return false;
}

std::string composite_reason(const std::vector<TriggeringAlarm>& triggering) {
  if (triggering.empty()) return {};
  const TriggeringAlarm& t = triggering.front();
  static constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
  static constexpr const char* kMonths[] = {"January", "February", "March", "April", "May", "June", "July",
                                            "August", "September", "October", "November", "December"};
  std::tm tm = utc_tm(t.state_timestamp_ms);
  char buf[96];
  // "Thursday 22 June, 2023 14:26:01 UTC" (day of month not zero-padded in AWS examples? they
  // show "30 October" and "22 June"; we follow Java's "d" pattern: no padding).
  std::snprintf(buf, sizeof buf, "%s %d %s, %04d %02d:%02d:%02d UTC", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return t.arn + " transitioned to " + t.state + " at " + buf;
}

std::string composite_reason_data(const std::vector<TriggeringAlarm>& triggering) {
  std::string out = "{\"triggeringAlarms\":[";
  for (size_t i = 0; i < triggering.size(); ++i) {
    if (i) out += ',';
    out += "{\"arn\":\"";
    json_escape(out, triggering[i].arn);
    out += "\",\"state\":{\"value\":\"";
    json_escape(out, triggering[i].state);
    out += "\",\"timestamp\":\"";
    out += json_timestamp(triggering[i].state_timestamp_ms);
    out += "\"}}";
  }
  out += "]}";
  return out;
}

}  // namespace vigil::cloudwatch
