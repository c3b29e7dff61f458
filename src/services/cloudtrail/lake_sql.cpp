#include "services/cloudtrail/lake_sql.h"

#include "core/encoding.h"

#include <algorithm>
#include <map>
#include <set>

namespace vigil::cloudtrail {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ident_start(char c) { return is_alpha(c) || c == '_'; }
bool ident_char(char c) { return ident_start(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}


void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

// Reads exactly n digits at s[i..]; false if they are not all digits.
bool digits(std::string_view s, size_t i, size_t n, int& value) {
  if (i + n > s.size()) return false;
  value = 0;
  for (size_t k = 0; k < n; ++k) {
    if (!is_digit(s[i + k])) return false;
    value = value * 10 + (s[i + k] - '0');
  }
  return true;
}

// Struct and map columns, whose dotted members become json_extract paths.
bool is_nested_column(std::string_view name) {
  std::string l = lower(name);
  for (const LakeColumn& c : lake_columns())
    if (c.kind == LakeColumn::Json && lower(c.name) == l) return true;
  return false;
}

// Reads a quoted token ('...' or "...", the quote doubled inside) starting at s[i]; returns
// the unescaped content and moves i past it.
std::string read_quoted(std::string_view s, size_t& i) {
  char quote = s[i];
  std::string content;
  size_t j = i + 1;
  for (;;) {
    if (j >= s.size()) throw LakeSqlError(quote == '\'' ? "Query statement has an unterminated string literal." : "Query statement has an unterminated quoted identifier.");
    if (s[j] == quote) {
      if (j + 1 < s.size() && s[j + 1] == quote) {
        content += quote;
        j += 2;
        continue;
      }
      break;
    }
    content += s[j++];
  }
  i = j + 1;
  return content;
}

std::string quote(std::string_view content, char q) {
  std::string out(1, q);
  for (char c : content) {
    out += c;
    if (c == q) out += q;
  }
  out += q;
  return out;
}

// A literal that is a full timestamp (date and at least hours:minutes), which Trino coerces
// when compared with a timestamp column. Date-only literals stay text: their text order
// against 'YYYY-MM-DD HH:MM:SS.mmm' is already right.
bool looks_like_timestamp(std::string_view s) {
  int v;
  return s.size() >= 16 && digits(s, 0, 4, v) && s[4] == '-' && digits(s, 5, 2, v) && s[7] == '-' && digits(s, 8, 2, v) &&
         (s[10] == ' ' || s[10] == 'T') && digits(s, 11, 2, v) && s[13] == ':' && digits(s, 14, 2, v);
}

}  // namespace

std::string lake_parameter_value(std::string_view value) {
  if (looks_like_timestamp(value))
    if (auto t = parse_lake_time(value)) return format_lake_time(*t);
  return std::string(value);
}

std::string lake_statement_with_parameters(std::string_view s, const std::vector<std::string>& parameters) {
  std::string out;
  size_t next = 0, i = 0;
  auto copy_until = [&](size_t end) {
    end = std::min(end, s.size());
    out.append(s.substr(i, end - i));
    i = end;
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < s.size()) {  // a doubled quote is an escaped one
        if (s[j] == c && !(j + 1 < s.size() && s[j + 1] == c)) break;
        j += s[j] == c ? 2 : 1;
      }
      copy_until(j + 1);
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      size_t end = s.find('\n', i);
      copy_until(end == std::string_view::npos ? s.size() : end);
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t end = s.find("*/", i + 2);
      copy_until(end == std::string_view::npos ? s.size() : end + 2);
    } else if (c == '?' && next < parameters.size()) {
      out += quote(parameters[next++], '\'');
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

namespace {

class Rewriter {
 public:
  Rewriter(std::string_view s, const LakeTargetResolver& resolve) : s_(s), resolve_(resolve) {}

  LakeSql run() {
    while (i_ < s_.size()) {
      if (copy_space_or_comment()) continue;
      char c = s_[i_];
      if (!started_) {
        started_ = true;
        size_t j = i_;
        while (j < s_.size() && ident_char(s_[j])) ++j;
        std::string first = lower(s_.substr(i_, j - i_));
        if (first != "select" && first != "with" && c != '(') throw LakeSqlError("Only SELECT statements are allowed in a query.");
      }
      if (c == '\'') {
        primary_start_ = out_.size();
        string_literal();
      } else if (c == '"' || ident_start(c)) {
        // A word that is not a primary (AND, WHERE...) is never followed by +/- INTERVAL in a
        // valid statement; if it is, the rewrite gives SQLite something it rejects.
        primary_start_ = out_.size();
        identifier_chain();
      } else if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
        primary_start_ = out_.size();
        number();
      } else {
        punctuation();
      }
    }
    if (!started_) throw LakeSqlError("Query statement is empty.");
    result_.sql = std::move(out_);
    return std::move(result_);
  }

 private:
  // Copies whitespace or one comment; false when s_[i_] starts neither.
  bool copy_space_or_comment() {
    char c = s_[i_];
    if (is_space(c)) {
      out_ += c;
      ++i_;
      return true;
    }
    if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '-') {
      size_t end = s_.find('\n', i_);
      if (end == std::string_view::npos) end = s_.size();
      out_.append(s_.substr(i_, end - i_));
      i_ = end;
      return true;
    }
    if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
      size_t end = s_.find("*/", i_ + 2);
      if (end == std::string_view::npos) throw LakeSqlError("Query statement has an unterminated comment.");
      out_.append(s_.substr(i_, end + 2 - i_));
      i_ = end + 2;
      return true;
    }
    return false;
  }

  void skip_space_and_comments() {
    while (i_ < s_.size() && copy_space_or_comment()) {
    }
  }

  void significant(std::string token) {
    prev_ = std::move(last_);
    last_ = std::move(token);
  }

  void string_literal() {
    std::string content = lake_parameter_value(read_quoted(s_, i_));
    out_ += quote(content, '\'');
    significant("'");
  }

  void number() {
    size_t j = i_;
    while (j < s_.size() && (ident_char(s_[j]) || s_[j] == '.')) {
      if ((s_[j] == 'e' || s_[j] == 'E') && j + 1 < s_.size() && (s_[j + 1] == '+' || s_[j + 1] == '-')) ++j;
      ++j;
    }
    out_.append(s_.substr(i_, j - i_));
    i_ = j;
    significant("0");
  }

  void punctuation() {
    char c = s_[i_++];
    if (c == ';') {
      // One trailing semicolon is fine; a second statement is not.
      skip_space_and_comments();
      if (i_ < s_.size()) throw LakeSqlError("Only one SELECT statement is allowed in a query.");
      return;
    }
    if ((c == '-' || c == '+') && interval_arithmetic(c)) return;
    size_t closed_primary = std::string::npos;
    if (c == '(') {
      parens_.push_back(last_was_ident_ ? last_ : std::string());
      // f(...) is one primary from f on; a bare ( ... ) from the parenthesis.
      paren_starts_.push_back(last_was_ident_ && primary_start_ != std::string::npos ? primary_start_ : out_.size());
    } else if (c == ')') {
      if (!parens_.empty()) parens_.pop_back();
      if (!paren_starts_.empty()) {
        closed_primary = paren_starts_.back();
        paren_starts_.pop_back();
      }
      if (in_from_list_ && parens_.size() < from_depth_) in_from_list_ = false;
    }
    primary_start_ = closed_primary;
    out_ += c;
    last_was_ident_ = false;
    significant(std::string(1, c));
    if (c == ',' && in_from_list_ && parens_.size() == from_depth_) table_target();
  }

  // `<primary> - INTERVAL '3' DAY` (Trino's timestamp arithmetic) becomes
  // `date_add('day', -3, <primary>)`. The operand is the primary just written to out_ (a
  // literal, a column, a function call or a parenthesized expression), which is what binds
  // to a binary minus anyway in `now() - INTERVAL ...`. False (nothing consumed) when no
  // INTERVAL follows the operator.
  bool interval_arithmetic(char op) {
    size_t j = i_;
    auto skip = [&] {
      while (j < s_.size() && is_space(s_[j])) ++j;
    };
    skip();
    if (j + 8 > s_.size() || lower(s_.substr(j, 8)) != "interval" || (j + 8 < s_.size() && ident_char(s_[j + 8]))) return false;
    if (primary_start_ == std::string::npos) throw LakeSqlError("An INTERVAL must be added to or subtracted from a timestamp.");
    j += 8;
    skip();
    if (j >= s_.size() || s_[j] != '\'') throw LakeSqlError("INTERVAL must be followed by a quoted number, as INTERVAL '1' DAY.");
    std::string amount = read_quoted(s_, j);
    skip();
    size_t unit_end = j;
    while (unit_end < s_.size() && ident_char(s_[unit_end])) ++unit_end;
    std::string unit = lower(s_.substr(j, unit_end - j));
    if (unit.size() > 1 && unit.back() == 's') unit.pop_back();
    static const char* const kUnits[] = {"second", "minute", "hour", "day", "month", "year"};
    bool known = false;
    for (const char* u : kUnits) known = known || unit == u;
    if (!known) throw LakeSqlError("INTERVAL unit " + std::string(s_.substr(j, unit_end - j)) + " is not supported.");
    bool negative = false;
    size_t k = 0;
    if (!amount.empty() && (amount[0] == '-' || amount[0] == '+')) negative = amount[k++] == '-';
    if (k == amount.size() || amount.size() - k > 9) throw LakeSqlError("INTERVAL '" + amount + "' is not a whole number.");
    for (size_t d = k; d < amount.size(); ++d)
      if (!is_digit(amount[d])) throw LakeSqlError("INTERVAL '" + amount + "' is not a whole number.");
    if (op == '-') negative = !negative;
    std::string operand = out_.substr(primary_start_);
    // Spaces before the operator go; a newline stays (it may end a -- comment).
    while (!operand.empty() && (operand.back() == ' ' || operand.back() == '\t')) operand.pop_back();
    out_.resize(primary_start_);
    out_ += "date_add('" + unit + "', " + (negative ? "-" : "") + amount.substr(k) + ", " + operand + ")";
    i_ = unit_end;
    last_was_ident_ = false;
    significant(")");
    return true;
  }

  struct Part {
    std::string text;  // unquoted
    bool quoted;
  };

  Part read_part() {
    if (s_[i_] == '"') return {read_quoted(s_, i_), true};
    size_t j = i_;
    while (j < s_.size() && ident_char(s_[j])) ++j;
    Part p{std::string(s_.substr(i_, j - i_)), false};
    i_ = j;
    return p;
  }

  static std::string emit(const Part& p) { return p.quoted ? quote(p.text, '"') : p.text; }

  void identifier_chain() {
    std::vector<Part> parts{read_part()};
    while (i_ + 1 < s_.size() && s_[i_] == '.' && (ident_start(s_[i_ + 1]) || s_[i_ + 1] == '"')) {
      ++i_;
      parts.push_back(read_part());
    }
    if (parts.size() > 1) {
      chain(parts);
      return;
    }
    const Part& p = parts[0];
    std::string word = p.quoted ? std::string() : lower(p.text);
    if (word == "timestamp" && timestamp_literal()) return;
    // Trino functions whose SQLite twin only has another name.
    if (word == "json_extract_scalar" || word == "cardinality") {
      out_ += word == "cardinality" ? "json_array_length" : "json_extract";
      last_was_ident_ = true;
      significant(word);
      return;
    }
    if (word == "current_timestamp") {
      out_ += "now()";
      last_was_ident_ = false;
      significant("now");
      return;
    }
    if ((last_ == "with" || last_ == "recursive" || last_ == ",") && defines_cte()) ctes_.insert(lower(p.text));
    out_ += emit(p);
    last_was_ident_ = !p.quoted;
    bool table_from = false;
    if (word == "from") {
      static const char* const kNotTable[] = {"extract", "trim", "substring", "position", "overlay"};
      table_from = true;
      if (!parens_.empty())
        for (const char* f : kNotTable) table_from = table_from && parens_.back() != f;
      // `a IS [NOT] DISTINCT FROM b` compares; it names no table.
      if (last_ == "distinct" && (prev_ == "is" || prev_ == "not")) table_from = false;
    }
    static const char* const kEndFromList[] = {"where", "group", "having", "order", "limit", "union", "intersect", "except", "window", "offset"};
    for (const char* k : kEndFromList)
      if (word == k) in_from_list_ = false;
    significant(word.empty() ? std::string("\"") : word);
    static const char* const kNotPrimary[] = {"select", "where", "and", "or", "not", "on", "by", "when", "then", "else", "case", "having",
                                              "between", "in", "is", "like", "as", "distinct", "all", "from", "join", "limit", "offset", "return"};
    for (const char* k : kNotPrimary)
      if (word == k) primary_start_ = std::string::npos;
    if (table_from || word == "join") {
      in_from_list_ = true;
      from_depth_ = parens_.size();
      table_target();
    }
  }

  // Whether `AS (` follows: the word before it names a WITH query, which FROM may then use.
  bool defines_cte() const {
    size_t j = i_;
    while (j < s_.size() && is_space(s_[j])) ++j;
    if (j < s_.size() && s_[j] == '(') {  // a column list: name(a, b) AS (...)
      size_t close = s_.find(')', j);
      if (close == std::string_view::npos) return false;
      j = close + 1;
      while (j < s_.size() && is_space(s_[j])) ++j;
    }
    if (j + 2 > s_.size() || lower(s_.substr(j, 2)) != "as" || (j + 2 < s_.size() && ident_char(s_[j + 2]))) return false;
    j += 2;
    while (j < s_.size() && is_space(s_[j])) ++j;
    return j < s_.size() && s_[j] == '(';
  }

  // TIMESTAMP 'literal' -> the normalized literal. False (nothing consumed) when no string
  // literal follows.
  bool timestamp_literal() {
    size_t j = i_;
    while (j < s_.size() && is_space(s_[j])) ++j;
    if (j >= s_.size() || s_[j] != '\'') return false;
    i_ = j;
    std::string content = read_quoted(s_, i_);
    auto t = parse_lake_time(content);
    if (!t) throw LakeSqlError("Value cannot be cast to timestamp: " + content);
    out_ += quote(format_lake_time(*t), '\'');
    last_was_ident_ = false;
    significant("'");
    return true;
  }

  // a.b.c where a (or b, after a table alias) is a struct/map column.
  void chain(const std::vector<Part>& parts) {
    size_t column = parts.size();
    if (is_nested_column(parts[0].text)) column = 0;
    else if (parts.size() >= 3 && is_nested_column(parts[1].text)) column = 1;
    std::string base;
    for (size_t k = 0; k <= std::min(column, parts.size() - 1); ++k) {
      if (k) base += '.';
      base += emit(parts[k]);
    }
    if (column >= parts.size() - 1) {
      // alias.column or an unknown chain: SQLite resolves (or rejects) it.
      for (size_t k = column + 1; k < parts.size(); ++k) base += "." + emit(parts[k]);
      out_ += base;
    } else {
      std::string path = "$";
      for (size_t k = column + 1; k < parts.size(); ++k) {
        if (parts[k].text.find_first_of("\"\\") != std::string::npos) throw LakeSqlError("Field name " + parts[k].text + " is not valid.");
        path += ".\"" + parts[k].text + "\"";
      }
      std::string expression = "json_extract(" + base + ", " + quote(path, '\'') + ")";
      result_.derived_names.emplace_back(expression, parts.back().text);
      out_ += expression;
    }
    last_was_ident_ = false;
    significant("\"");
  }

  // After FROM, JOIN or a comma of a FROM list: an event data store ID or ARN (bare or
  // double-quoted) becomes eds_<n>; a subquery is left to the main loop.
  void table_target() {
    skip_space_and_comments();
    if (i_ >= s_.size() || s_[i_] == '(') return;
    std::string target;
    if (s_[i_] == '"') {
      target = read_quoted(s_, i_);
    } else {
      size_t j = i_;
      while (j < s_.size() && (ident_char(s_[j]) || s_[j] == '-' || s_[j] == ':' || s_[j] == '/')) ++j;
      target = std::string(s_.substr(i_, j - i_));
      i_ = j;
    }
    if (target.empty()) return;
    if (ctes_.count(lower(target))) {
      out_ += target;  // a WITH query, not an event data store
      last_was_ident_ = false;
      significant("\"");
      return;
    }
    std::string key = resolve_(target);
    auto [it, added] = tables_.emplace(key, result_.targets.size());
    if (added) result_.targets.push_back(key);
    out_ += "eds_" + std::to_string(it->second);
    last_was_ident_ = false;
    significant("\"");
  }

  std::string_view s_;
  const LakeTargetResolver& resolve_;
  size_t i_ = 0;
  bool started_ = false;
  std::string out_;
  LakeSql result_;
  std::map<std::string, size_t> tables_;
  std::set<std::string> ctes_;  // names of WITH queries (lower-cased)
  std::vector<std::string> parens_;  // the function name before each open '(' ("" if none)
  std::vector<size_t> paren_starts_;  // where in out_ the primary of each open '(' begins
  size_t primary_start_ = std::string::npos;  // where in out_ the last complete primary begins
  std::string last_, prev_;          // the last two significant tokens (words lower-cased)
  bool last_was_ident_ = false;
  bool in_from_list_ = false;
  size_t from_depth_ = 0;
};

}  // namespace

const std::vector<LakeColumn>& lake_columns() {
  static const std::vector<LakeColumn> columns = {
      {"eventVersion", "eventVersion", LakeColumn::Text},
      {"userIdentity", "userIdentity", LakeColumn::Json},
      {"eventTime", "eventTime", LakeColumn::Time},
      {"eventSource", "eventSource", LakeColumn::Text},
      {"eventName", "eventName", LakeColumn::Text},
      {"awsRegion", "awsRegion", LakeColumn::Text},
      {"sourceIPAddress", "sourceIPAddress", LakeColumn::Text},
      {"userAgent", "userAgent", LakeColumn::Text},
      {"errorCode", "errorCode", LakeColumn::Text},
      {"errorMessage", "errorMessage", LakeColumn::Text},
      {"requestParameters", "requestParameters", LakeColumn::Json},
      {"responseElements", "responseElements", LakeColumn::Json},
      {"additionalEventData", "additionalEventData", LakeColumn::Json},
      {"requestId", "requestID", LakeColumn::Text},
      {"eventId", "eventID", LakeColumn::Text},
      {"readOnly", "readOnly", LakeColumn::Boolean},
      {"resources", "resources", LakeColumn::Json},
      {"eventType", "eventType", LakeColumn::Text},
      {"apiVersion", "apiVersion", LakeColumn::Text},
      {"managementEvent", "managementEvent", LakeColumn::Boolean},
      {"recipientAccountId", "recipientAccountId", LakeColumn::Text},
      {"sharedEventId", "sharedEventID", LakeColumn::Text},
      {"annotation", "annotation", LakeColumn::Text},
      {"vpcEndpointId", "vpcEndpointId", LakeColumn::Text},
      {"serviceEventDetails", "serviceEventDetails", LakeColumn::Json},
      {"addendum", "addendum", LakeColumn::Json},
      {"edgeDeviceDetails", "edgeDeviceDetails", LakeColumn::Json},
      {"insightDetails", "insightDetails", LakeColumn::Json},
      {"eventCategory", "eventCategory", LakeColumn::Text},
      {"tlsDetails", "tlsDetails", LakeColumn::Json},
      {"sessionCredentialFromConsole", "sessionCredentialFromConsole", LakeColumn::Text},
  };
  return columns;
}

std::optional<int64_t> parse_lake_time(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  if (!(s.size() >= 10 && digits(s, 0, 4, year) && s[4] == '-' && digits(s, 5, 2, month) && s[7] == '-' && digits(s, 8, 2, day))) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  size_t i = 10;
  int64_t offset_minutes = 0;
  if (i < s.size()) {
    if ((s[i] != ' ' && s[i] != 'T') || !digits(s, i + 1, 2, hour) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, minute))
      return std::nullopt;
    i += 6;
    if (i < s.size() && s[i] == ':') {
      if (!digits(s, i + 1, 2, second)) return std::nullopt;
      i += 3;
      if (i < s.size() && s[i] == '.') {
        ++i;
        size_t start = i;
        while (i < s.size() && is_digit(s[i])) {
          if (i - start < 3) millis = millis * 10 + (s[i] - '0');
          ++i;
        }
        if (i == start || i - start > 9) return std::nullopt;
        for (size_t k = i - start; k < 3; ++k) millis *= 10;
      }
    }
    if (i < s.size()) {
      if (s[i] == 'Z' && i + 1 == s.size()) {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        size_t mm = s.size() == i + 6 && s[i + 3] == ':' ? i + 4 : i + 3;
        if (!digits(s, i + 1, 2, oh) || !digits(s, mm, 2, om) || mm + 2 != s.size() || oh > 23 || om > 59) return std::nullopt;
        offset_minutes = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
        i = s.size();
      } else {
        return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute - offset_minutes) * 60000 + second * 1000LL + millis;
}

std::string format_lake_time(int64_t millis) {
  int64_t days = millis >= 0 ? millis / 86400000 : -((-millis + 86400000 - 1) / 86400000);
  int64_t rest = millis - days * 86400000;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld.%03lld", static_cast<long long>(y), m, d, static_cast<long long>(rest / 3600000),
           static_cast<long long>(rest / 60000 % 60), static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buf;
}

LakeSql rewrite_lake_sql(std::string_view statement, const LakeTargetResolver& resolve) { return Rewriter(statement, resolve).run(); }

}  // namespace vigil::cloudtrail
