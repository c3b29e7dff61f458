// CloudWatch Logs filter patterns. See filter_pattern.h for the syntax and the cost of the hot
// path; the semantics follow AWS's "Filter pattern syntax" guide, and where it is silent the
// choices are noted at the place they are made.
#include "services/logs/filter_pattern.h"

#include <re2/re2.h>
#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>

namespace vigil::logs {

namespace {

enum class Op : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIsNull, kIsTrue, kIsFalse, kNotExists };

bool is_relational(Op op) { return op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
// Property names in selectors and field names of space-delimited patterns.
bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '-'; }
// AWS: terms "that include characters other than alphanumeric or underscore must be placed
// inside double quotes". Non-ASCII bytes are let through so that non-English words work.
bool is_term_char(char c) { return is_alnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80; }
// Unquoted comparison values: alphanumerics plus what the documented examples use unquoted
// (123.123.*, 4*, *html*, -1, +1000, 10e-3). Anything else ('@', '$', '\', ...) must be quoted.
bool is_value_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '*' || c == '-' || c == '+'; }
// Ends an unquoted value or a quoted one's following context.
bool is_value_end(char c) {
  return is_space(c) || c == ',' || c == ']' || c == '}' || c == ')' || c == '&' || c == '|';
}

// How common a byte is in log text (higher = rarer): spaces and lower-case letters are
// everywhere, digits and punctuation less so, upper case and other bytes least. A table, as
// it is consulted for every byte of a term on every message scanned.
struct RarityTable {
  unsigned char rank[256];
  constexpr RarityTable() : rank() {
    for (int c = 0; c < 256; ++c) rank[c] = 5;
    for (int c = 'A'; c <= 'Z'; ++c) rank[c] = 4;
    for (int c = '0'; c <= '9'; ++c) rank[c] = 3;
    for (char c : {'.', ',', ':', '/', '-', '_', '"'}) rank[static_cast<unsigned char>(c)] = 3;
    for (int c = 'a'; c <= 'z'; ++c) rank[c] = 2;
    for (char c : {'e', 't', 'a', 'o', 'i', 'n', 's', 'h', 'r'}) rank[static_cast<unsigned char>(c)] = 1;
    rank[static_cast<unsigned char>(' ')] = 0;
  }
};
constexpr RarityTable kRarity;
inline int rarity(unsigned char c) { return kRarity.rank[c]; }

// Substring search by the needle's rarest byte: memchr (vectorised in glibc) skips to each
// occurrence of that byte and a memcmp checks the needle around it. For the selective terms
// people search for, most messages do not hold that byte at all and cost one vectorised
// pass; glibc's two-way memmem was the largest single cost of a FilterLogEvents scan.
bool contains(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  size_t anchor = 0;
  for (size_t i = 1; i < needle.size(); ++i)
    if (rarity(static_cast<unsigned char>(needle[i])) > rarity(static_cast<unsigned char>(needle[anchor]))) anchor = i;
  const char* data = haystack.data();
  const char* first = data + anchor;                                  // earliest place the anchor byte can match
  const char* last = data + (haystack.size() - needle.size()) + anchor;  // latest
  while (first <= last) {
    const void* hit = std::memchr(first, needle[anchor], static_cast<size_t>(last - first) + 1);
    if (!hit) return false;
    const char* at = static_cast<const char*>(hit);
    if (std::memcmp(at - anchor, needle.data(), needle.size()) == 0) return true;
    first = at + 1;
  }
  return false;
}

// The documented NUMBER: optional sign, integer or decimal, optional exponent.
bool looks_numeric(std::string_view s) {
  std::size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < n && is_digit(s[i])) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < n && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == n;
}

std::optional<double> parse_number(std::string_view s) {
  if (!looks_numeric(s)) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;  // incl. 1e999
  return value;
}

// A string value with AWS's wildcard: '*' only counts at the start and/or the end
// ("Ev*ent will only match the actual string Ev*ent").
struct Glob {
  enum Mode : std::uint8_t { kExact, kPrefix, kSuffix, kContains, kAny };
  Mode mode = kExact;
  std::string text;

  static Glob make(std::string_view t) {
    Glob g;
    bool lead = !t.empty() && t.front() == '*';
    bool trail = !t.empty() && t.back() == '*';
    while (!t.empty() && t.front() == '*') t.remove_prefix(1);
    while (!t.empty() && t.back() == '*') t.remove_suffix(1);
    g.text = std::string(t);
    if (t.empty() && (lead || trail)) g.mode = kAny;
    else if (lead && trail) g.mode = kContains;
    else if (lead) g.mode = kSuffix;
    else if (trail) g.mode = kPrefix;
    return g;
  }

  bool match(std::string_view s) const {
    switch (mode) {
      case kExact: return s == text;
      case kPrefix: return s.starts_with(text);
      case kSuffix: return s.ends_with(text);
      case kContains: return contains(s, text);
      case kAny: return true;
    }
    return false;
  }
};

// The right-hand side of a comparison.
struct Literal {
  Glob glob;
  int regex = -1;                // index into Impl::regexes when the value is %regex%
  std::optional<double> number;  // set when the value is a NUMBER
};

struct PathStep {
  bool is_index = false;
  std::string key;
  std::size_t index = 0;
};

struct Condition {
  std::vector<PathStep> path;  // JSON patterns
  std::string field;           // space-delimited patterns
  Op op = Op::kEq;
  Literal value;
};

struct Node {
  enum Type : std::uint8_t { kLeaf, kAnd, kOr };
  Type type = kLeaf;
  int condition = -1;
  std::vector<int> kids;
};

struct Term {
  enum Kind : std::uint8_t { kAlways, kLiteral, kRegex };
  Kind kind = kLiteral;
  std::string text;
  int regex = -1;
};

struct Slot {
  enum Kind : std::uint8_t { kUnnamed, kEllipsis, kNamed, kConditional };
  Kind kind = kUnnamed;
  std::string name;
  int expr = -1;
};

struct Segment {  // consecutive non-ellipsis slots
  std::size_t first_slot = 0;
  std::size_t length = 0;
};

}  // namespace

struct FilterPattern::Impl {
  Kind kind = Kind::kMatchAll;
  std::string source;
  std::vector<std::unique_ptr<re2::RE2>> regexes;
  // kTerms. AWS (and Lucene, which this resembles): every plain term must occur, no -term may
  // occur, and ?terms are alternatives that only count when there is no plain term.
  std::vector<Term> must, should, must_not;
  // kJson and kSpaceDelimited.
  std::vector<Condition> conditions;
  std::vector<Node> nodes;
  int root = -1;
  // kSpaceDelimited.
  std::vector<Slot> slots;
  std::vector<Segment> segments;  // ellipses + 1 of them
  std::size_t ellipses = 0;
  std::size_t fixed = 0;  // slots that are not ellipses
};

namespace {

using Impl = FilterPattern::Impl;

// ---------------------------------------------------------------------------------------------
// Parsing.

// Parses a selector path after the '$' at s[*pos]: one or more of .name / [index], the first
// being a property ("Array elements ... must follow a property"). Leaves *pos after it.
bool parse_path(std::string_view s, std::size_t* pos, std::vector<PathStep>* out) {
  std::size_t i = *pos;
  if (i >= s.size() || s[i] != '$') return false;
  ++i;
  if (i >= s.size() || s[i] != '.') return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      std::size_t j = ++i;
      while (j < s.size() && is_name_char(s[j])) ++j;
      if (j == i) return false;
      out->push_back(PathStep{false, std::string(s.substr(i, j - i)), 0});
      i = j;
    } else if (s[i] == '[') {
      std::size_t j = ++i;
      while (j < s.size() && is_digit(s[j])) ++j;
      if (j == i || j - i > 9 || j >= s.size() || s[j] != ']') return false;
      std::size_t index = 0;
      std::from_chars(s.data() + i, s.data() + j, index);
      out->push_back(PathStep{true, {}, index});
      i = j + 1;
    } else {
      break;
    }
  }
  *pos = i;
  return true;
}

std::size_t count_chars(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

class Parser {
 public:
  Parser(std::string_view source, Impl& impl) : s_(source), m_(impl) {}

  bool parse() {
    skip_ws();
    if (at_end()) {
      m_.kind = FilterPattern::Kind::kMatchAll;
      return true;
    }
    if (peek() == '{') return parse_json();
    if (peek() == '[') return parse_delimited();
    return parse_terms();
  }

  const std::string& error() const { return error_; }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool lookahead(std::string_view token) const { return s_.substr(i_).starts_with(token); }
  void skip_ws() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  std::string_view rest_word() const {  // for error messages: the text up to the next blank
    std::size_t j = i_;
    while (j < s_.size() && !is_space(s_[j])) ++j;
    return s_.substr(i_, j - i_);
  }

  // "..." with \" and \\ as escapes (what the AWS CDK emits); other backslashes stay literal.
  bool parse_quoted(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\\')) {
        out->push_back(s_[i_ + 1]);
        i_ += 2;
      } else if (c == '"') {
        ++i_;
        return true;
      } else {
        out->push_back(c);
        ++i_;
      }
    }
    return fail("Invalid filter pattern: unterminated quoted string");
  }

  // %regex% with AWS's restrictions: ASCII only; alphanumerics, the symbols : _ # = @ / ; , -
  // (and blanks), the operators ^ $ ? [ ] { } | \ * + . ; no parentheses. Compiled with RE2,
  // which runs in linear time and whose memory is capped here.
  bool parse_regex(int* index) {
    std::size_t j = i_ + 1;
    while (j < s_.size() && s_[j] != '%') j += (s_[j] == '\\' && j + 1 < s_.size()) ? 2 : 1;
    if (j >= s_.size()) return fail("Invalid filter pattern: unterminated regular expression (missing closing '%')");
    std::string_view body = s_.substr(i_ + 1, j - i_ - 1);
    i_ = j + 1;
    std::string shown = "%" + std::string(body) + "%";
    if (body.empty()) return fail("Invalid regular expression '%%': the expression is empty");
    for (std::size_t k = 0; k < body.size(); ++k) {
      char c = body[k];
      if (static_cast<unsigned char>(c) >= 0x80)
        return fail("Invalid regular expression '" + shown + "': multi-byte characters are not supported");
      if (c == '(' || c == ')')
        return fail("Invalid regular expression '" + shown + "': parentheses are not supported");
      if (c == '\\') {
        char e = k + 1 < body.size() ? body[k + 1] : '\0';
        bool ok = (e > ' ' && e < 0x7f && !is_alnum(e) && e != '(' && e != ')') ||
                  std::string_view("dDsSwWbBtnrf").find(e) != std::string_view::npos;
        if (!ok || e == '\0') return fail("Invalid regular expression '" + shown + "': unsupported escape sequence");
        ++k;
        continue;
      }
      if (is_alnum(c) || c == ' ' || std::string_view(":_#=@/;,-^$?[]{}|*+.").find(c) != std::string_view::npos)
        continue;
      return fail("Invalid character(s) in regular expression '" + shown + "'");
    }
    if (static_cast<int>(m_.regexes.size()) >= FilterPattern::kMaxRegexes)
      return fail("Invalid filter pattern: at most " + std::to_string(FilterPattern::kMaxRegexes) +
                  " regular expressions are allowed in a filter pattern");
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_never_capture(true);
    options.set_max_mem(1 << 20);
    auto re = std::make_unique<re2::RE2>(re2::StringPiece(body.data(), body.size()), options);
    if (!re->ok()) return fail("Invalid regular expression '" + shown + "': " + re->error());
    *index = static_cast<int>(m_.regexes.size());
    m_.regexes.push_back(std::move(re));
    return true;
  }

  // --- Unstructured terms -------------------------------------------------------------------

  bool parse_terms() {
    m_.kind = FilterPattern::Kind::kTerms;
    for (;;) {
      skip_ws();
      if (at_end()) break;
      std::vector<Term>* list = &m_.must;
      std::size_t term_start = i_;
      if (peek() == '?') {
        list = &m_.should;
        ++i_;
      } else if (peek() == '-') {
        list = &m_.must_not;
        ++i_;
        skip_ws();  // the guide's own example spells it "ERROR" - "Exiting"
      }
      Term term;
      if (peek() == '"') {
        if (!parse_quoted(&term.text)) return false;
        if (!at_end() && !is_space(peek())) {
          i_ = term_start;
          return fail("Invalid character(s) in term '" + std::string(rest_word()) + "'");
        }
        bool blank = true;
        for (char c : term.text) blank = blank && is_space(c);
        term.kind = blank ? Term::kAlways : Term::kLiteral;  // `" "` matches everything
      } else if (peek() == '%') {
        term.kind = Term::kRegex;
        if (!parse_regex(&term.regex)) return false;
      } else {
        std::size_t j = i_;
        while (j < s_.size() && !is_space(s_[j])) ++j;
        std::string_view word = s_.substr(i_, j - i_);
        bool ok = !word.empty();
        for (char c : word) ok = ok && is_term_char(c);
        if (!ok) {
          i_ = term_start;
          std::string shown(word.empty() ? rest_word() : word);
          return fail("Invalid character(s) in term '" + shown + "'");
        }
        term.text = std::string(word);
        i_ = j;
      }
      list->push_back(std::move(term));
    }
    bool all_always = true;
    for (const Term& t : m_.must) all_always = all_always && t.kind == Term::kAlways;
    if (all_always && m_.should.empty() && m_.must_not.empty()) m_.kind = FilterPattern::Kind::kMatchAll;
    return true;
  }

  // --- Expressions (JSON and one space-delimited field) -------------------------------------

  int add_node(Node node) {
    m_.nodes.push_back(std::move(node));
    return static_cast<int>(m_.nodes.size()) - 1;
  }

  // Precedence as documented: () > && > ||.
  int parse_or() {
    int first = parse_and();
    if (first < 0) return -1;
    Node node{Node::kOr, -1, {first}};
    for (;;) {
      skip_ws();
      if (!lookahead("||")) break;
      i_ += 2;
      int next = parse_and();
      if (next < 0) return -1;
      node.kids.push_back(next);
    }
    return node.kids.size() == 1 ? first : add_node(std::move(node));
  }

  int parse_and() {
    int first = parse_primary();
    if (first < 0) return -1;
    Node node{Node::kAnd, -1, {first}};
    for (;;) {
      skip_ws();
      if (!lookahead("&&")) break;
      i_ += 2;
      int next = parse_primary();
      if (next < 0) return -1;
      node.kids.push_back(next);
    }
    return node.kids.size() == 1 ? first : add_node(std::move(node));
  }

  int parse_primary() {
    skip_ws();
    if (peek() == '(') {
      if (++depth_ > FilterPattern::kMaxNesting) {
        fail("Invalid filter pattern: parentheses nested too deeply");
        return -1;
      }
      ++i_;
      int inner = parse_or();
      if (inner < 0) return -1;
      skip_ws();
      if (peek() != ')') {
        fail("Invalid filter pattern: missing ')'");
        return -1;
      }
      ++i_;
      --depth_;
      return inner;
    }
    return parse_condition();
  }

  int parse_condition() {
    skip_ws();
    Condition cond;
    std::size_t start = i_;
    if (json_) {
      if (peek() != '$' || !parse_path(s_, &i_, &cond.path) ||
          (!at_end() && !is_space(peek()) && std::string_view("=!<>").find(peek()) == std::string_view::npos)) {
        i_ = start;
        std::string shown(rest_word());
        fail(shown.empty() || shown[0] == '}' || shown[0] == ')'
                 ? "Invalid filter pattern: expected a selector such as $.property"
                 : "Invalid selector '" + shown +
                       "': selectors start with '$.' followed by property names and [index]es");
        return -1;
      }
    } else {
      std::size_t j = i_;
      while (j < s_.size() && is_name_char(s_[j])) ++j;
      if (j == i_) {
        fail(at_end() || peek() == ']' || peek() == ','
                 ? "Invalid filter pattern: expected a field name"
                 : "Invalid character(s) in field '" + std::string(rest_word()) + "'");
        return -1;
      }
      cond.field = std::string(s_.substr(i_, j - i_));
      i_ = j;
    }
    std::string_view subject = s_.substr(start, i_ - start);
    skip_ws();
    bool postfix = false;
    if (lookahead("==")) {
      fail("Invalid filter pattern: invalid operator '==' (use '=')");
      return -1;
    } else if (lookahead("!=")) {
      cond.op = Op::kNe, i_ += 2;
    } else if (lookahead("<=")) {
      cond.op = Op::kLe, i_ += 2;
    } else if (lookahead(">=")) {
      cond.op = Op::kGe, i_ += 2;
    } else if (peek() == '=') {
      cond.op = Op::kEq, ++i_;
    } else if (peek() == '<') {
      cond.op = Op::kLt, ++i_;
    } else if (peek() == '>') {
      cond.op = Op::kGt, ++i_;
    } else if (json_ && is_alpha(peek())) {
      // Keywords, accepted in any case: IS NULL, IS TRUE, IS FALSE, NOT EXISTS.
      auto word = [&] {
        skip_ws();
        std::string w;
        while (i_ < s_.size() && is_alpha(s_[i_])) w.push_back(static_cast<char>(s_[i_++] & ~0x20));
        return w;
      };
      std::string first = word();
      std::string second = word();
      if (first == "IS" && second == "NULL") cond.op = Op::kIsNull;
      else if (first == "IS" && second == "TRUE") cond.op = Op::kIsTrue;
      else if (first == "IS" && second == "FALSE") cond.op = Op::kIsFalse;
      else if (first == "NOT" && second == "EXISTS") cond.op = Op::kNotExists;
      else {
        fail("Invalid filter pattern: unknown operator '" + first + (second.empty() ? "" : " " + second) +
             "' after '" + std::string(subject) + "'");
        return -1;
      }
      postfix = true;
    } else {
      fail("Invalid filter pattern: expected a comparison operator after '" + std::string(subject) + "'");
      return -1;
    }
    if (!postfix && !parse_value(&cond.value)) return -1;
    if (is_relational(cond.op) && (cond.value.regex >= 0 || !cond.value.number)) {
      fail("Invalid filter pattern: the operators <, <=, > and >= compare numbers, in '" +
           std::string(s_.substr(start, i_ - start)) + "'");
      return -1;
    }
    m_.conditions.push_back(std::move(cond));
    return add_node(Node{Node::kLeaf, static_cast<int>(m_.conditions.size()) - 1, {}});
  }

  bool parse_value(Literal* out) {
    skip_ws();
    if (at_end() || is_value_end(peek())) return fail("Invalid filter pattern: expected a value after the operator");
    if (peek() == '%') return parse_regex(&out->regex);
    std::string text;
    bool quoted = peek() == '"';
    if (quoted) {
      std::size_t start = i_;
      if (!parse_quoted(&text)) return false;
      if (!at_end() && !is_value_end(peek())) {
        i_ = start;
        return fail("Invalid character(s) in term '" + std::string(rest_word()) + "'");
      }
    } else {
      std::size_t j = i_;
      while (j < s_.size() && !is_value_end(s_[j])) ++j;
      std::string_view word = s_.substr(i_, j - i_);
      for (char c : word)
        if (!is_value_char(c)) return fail("Invalid character(s) in term '" + std::string(word) + "'");
      text = std::string(word);
      i_ = j;
    }
    out->glob = Glob::make(text);
    if (!quoted) out->number = parse_number(text);  // a quoted value is a string, even "400"
    return true;
  }

  // --- JSON ----------------------------------------------------------------------------------

  bool parse_json() {
    m_.kind = FilterPattern::Kind::kJson;
    json_ = true;
    ++i_;  // '{'
    skip_ws();
    if (peek() == '}') return fail("Invalid filter pattern: empty JSON expression '{}'");
    m_.root = parse_or();
    if (m_.root < 0) return false;
    skip_ws();
    if (peek() != '}') {
      return fail(at_end() ? "Invalid filter pattern: missing '}'"
                           : "Invalid filter pattern: unexpected '" + std::string(rest_word()) + "'");
    }
    ++i_;
    skip_ws();
    if (!at_end()) return fail("Invalid filter pattern: unexpected text after '}'");
    return true;
  }

  // --- Space-delimited -----------------------------------------------------------------------

  bool parse_delimited() {
    m_.kind = FilterPattern::Kind::kSpaceDelimited;
    json_ = false;
    ++i_;  // '['
    skip_ws();
    if (peek() == ']') return fail("Invalid filter pattern: no fields between '[' and ']'");
    for (;;) {
      skip_ws();
      Slot slot;
      if (lookahead("...")) {
        slot.kind = Slot::kEllipsis;
        i_ += 3;
      } else if (at_end()) {
        return fail("Invalid filter pattern: missing ']'");
      } else if (peek() == ',' || peek() == ']') {
        slot.kind = Slot::kUnnamed;  // e.g. the trailing field of [..., status_code=4*,]
      } else {
        std::size_t start = i_;
        std::size_t j = i_;
        while (j < s_.size() && is_name_char(s_[j])) ++j;
        std::size_t k = j;
        while (k < s_.size() && is_space(s_[k])) ++k;
        if (j > i_ && (k >= s_.size() || s_[k] == ',' || s_[k] == ']')) {
          slot.kind = Slot::kNamed;
          slot.name = std::string(s_.substr(i_, j - i_));
          i_ = j;
        } else {
          std::size_t first_condition = m_.conditions.size();
          slot.kind = Slot::kConditional;
          slot.expr = parse_or();
          if (slot.expr < 0) return false;
          // A field's conditions are about that field: AWS rejects the guide's old example
          // [..., status_code = 4* && bytes > 1000] as an invalid filter pattern.
          slot.name = m_.conditions[first_condition].field;
          for (std::size_t c = first_condition; c < m_.conditions.size(); ++c) {
            if (m_.conditions[c].field != slot.name) {
              return fail("Invalid filter pattern: the conditions of one field must all be about that field, in '" +
                          std::string(s_.substr(start, i_ - start)) + "'");
            }
          }
        }
      }
      m_.slots.push_back(std::move(slot));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == ']') {
        ++i_;
        break;
      }
      return fail(at_end() ? "Invalid filter pattern: missing ']'"
                           : "Invalid filter pattern: expected ',' or ']' before '" + std::string(rest_word()) + "'");
    }
    skip_ws();
    if (!at_end()) return fail("Invalid filter pattern: unexpected text after ']'");
    Segment segment;
    for (std::size_t k = 0; k < m_.slots.size(); ++k) {
      if (m_.slots[k].kind == Slot::kEllipsis) {
        m_.segments.push_back(segment);
        segment = Segment{k + 1, 0};
        ++m_.ellipses;
      } else {
        ++segment.length;
        ++m_.fixed;
      }
    }
    m_.segments.push_back(segment);
    return true;
  }

  std::string_view s_;
  Impl& m_;
  std::size_t i_ = 0;
  int depth_ = 0;
  bool json_ = false;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// Matching.

template <typename Leaf>
bool eval_node(const Impl& m, int index, const Leaf& leaf) {
  const Node& node = m.nodes[static_cast<std::size_t>(index)];
  switch (node.type) {
    case Node::kLeaf: return leaf(m.conditions[static_cast<std::size_t>(node.condition)]);
    case Node::kAnd:
      for (int kid : node.kids)
        if (!eval_node(m, kid, leaf)) return false;
      return true;
    case Node::kOr:
      for (int kid : node.kids)
        if (eval_node(m, kid, leaf)) return true;
      return false;
  }
  return false;
}

// Compares a value (its text, and its number when it has a numeric reading). = and != with a
// NUMBER compare numerically when the value has one, else as text; <, <=, >, >= need one.
// A %regex% value is searched for anywhere in the text, as a standalone regex is in the whole
// event; anchor it with ^ and $ to match the whole value.
bool compare(const Impl& m, const Condition& c, std::string_view text, std::optional<double> number) {
  const Literal& lit = c.value;
  switch (c.op) {
    case Op::kLt: return number && *number < *lit.number;
    case Op::kLe: return number && *number <= *lit.number;
    case Op::kGt: return number && *number > *lit.number;
    case Op::kGe: return number && *number >= *lit.number;
    case Op::kEq:
    case Op::kNe: {
      bool equal;
      if (lit.regex >= 0)
        equal = re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()),
                                       *m.regexes[static_cast<std::size_t>(lit.regex)]);
      else if (lit.number && number) equal = *number == *lit.number;
      else equal = lit.glob.match(text);
      return (c.op == Op::kEq) == equal;
    }
    default: return false;
  }
}

// Whether a field's numeric reading matters (relational operators, or = / != with a NUMBER).
bool needs_number(const Condition& c) { return is_relational(c.op) || c.value.number.has_value(); }

bool term_present(const Impl& m, const Term& t, std::string_view message) {
  switch (t.kind) {
    case Term::kAlways: return true;
    case Term::kLiteral: return contains(message, t.text);
    case Term::kRegex:
      return re2::RE2::PartialMatch(re2::StringPiece(message.data(), message.size()),
                                    *m.regexes[static_cast<std::size_t>(t.regex)]);
  }
  return false;
}

bool match_terms(const Impl& m, std::string_view message) {
  for (const Term& t : m.must)
    if (!term_present(m, t, message)) return false;
  for (const Term& t : m.must_not)
    if (term_present(m, t, message)) return false;
  if (!m.must.empty() || m.should.empty()) return true;
  for (const Term& t : m.should)
    if (term_present(m, t, message)) return true;
  return false;
}

// --- JSON --------------------------------------------------------------------------------------

struct JsonScratch {
  simdjson::dom::parser parser;
  std::string buffer;
};

JsonScratch& json_scratch() {
  thread_local JsonScratch scratch;
  return scratch;
}

// Parses `message` as a JSON object into the per-thread parser. The element stays valid until
// the next parse on this thread.
bool parse_json_message(std::string_view message, simdjson::dom::element* root) {
  std::size_t k = 0;
  while (k < message.size() && is_space(message[k])) ++k;
  if (k == message.size() || message[k] != '{') return false;
  JsonScratch& s = json_scratch();
  std::size_t needed = message.size() + simdjson::SIMDJSON_PADDING;
  if (s.buffer.size() < needed) s.buffer.resize(needed);
  std::memcpy(s.buffer.data(), message.data(), message.size());
  if (s.parser.parse(s.buffer.data(), message.size(), false).get(*root) != simdjson::SUCCESS) return false;
  return root->is_object();
}

bool resolve(simdjson::dom::element current, const std::vector<PathStep>& path, simdjson::dom::element* out) {
  for (const PathStep& step : path) {
    if (step.is_index) {
      simdjson::dom::array array;
      if (current.get_array().get(array) != simdjson::SUCCESS) return false;
      if (array.at(step.index).get(current) != simdjson::SUCCESS) return false;
    } else {
      simdjson::dom::object object;
      if (current.get_object().get(object) != simdjson::SUCCESS) return false;
      if (object.at_key(step.key).get(current) != simdjson::SUCCESS) return false;
    }
  }
  *out = current;
  return true;
}

// The text (and number) of a value node; false for null, objects and arrays, which are not
// value nodes ("If it points to an array or object, the filter will not be applied"). JSON
// numbers always have a numeric reading; strings only when `parse_strings` (for <, <=, >, >=:
// "750" > 500 holds, but = and != compare strings exactly, so "1.10" is not 1.1).
bool value_of(simdjson::dom::element el, char (&buffer)[40], std::string_view* text, std::optional<double>* number,
              bool parse_strings) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::STRING: {
      std::string_view s;
      if (el.get_string().get(s) != simdjson::SUCCESS) return false;
      *text = s;
      if (parse_strings) *number = parse_number(s);
      return true;
    }
    case element_type::INT64: {
      std::int64_t v = 0;
      if (el.get_int64().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
      *text = std::string_view(buffer, static_cast<std::size_t>(r.ptr - buffer));
      *number = static_cast<double>(v);
      return true;
    }
    case element_type::UINT64: {
      std::uint64_t v = 0;
      if (el.get_uint64().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
      *text = std::string_view(buffer, static_cast<std::size_t>(r.ptr - buffer));
      *number = static_cast<double>(v);
      return true;
    }
    case element_type::DOUBLE: {
      double v = 0;
      if (el.get_double().get(v) != simdjson::SUCCESS) return false;
      auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
      *text = std::string_view(buffer, static_cast<std::size_t>(r.ptr - buffer));
      *number = v;
      return true;
    }
    case element_type::BOOL: {
      bool v = false;
      if (el.get_bool().get(v) != simdjson::SUCCESS) return false;
      *text = v ? "true" : "false";
      return true;
    }
    default: return false;
  }
}

bool eval_json_condition(const Impl& m, const Condition& c, simdjson::dom::element root) {
  simdjson::dom::element el;
  bool found = resolve(root, c.path, &el);
  if (c.op == Op::kNotExists) return !found;
  if (!found) return false;
  if (c.op == Op::kIsNull) return el.is_null();
  if (c.op == Op::kIsTrue || c.op == Op::kIsFalse) {
    bool v = false;
    return el.get_bool().get(v) == simdjson::SUCCESS && v == (c.op == Op::kIsTrue);
  }
  char buffer[40];
  std::string_view text;
  std::optional<double> number;
  if (!value_of(el, buffer, &text, &number, is_relational(c.op))) return false;
  return compare(m, c, text, number);
}

std::optional<std::string> extract_json(simdjson::dom::element root, std::string_view selector) {
  std::vector<PathStep> path;
  std::size_t pos = 0;
  if (!parse_path(selector, &pos, &path) || pos != selector.size()) return std::nullopt;
  simdjson::dom::element el;
  if (!resolve(root, path, &el)) return std::nullopt;
  char buffer[40];
  std::string_view text;
  std::optional<double> number;
  if (!value_of(el, buffer, &text, &number, false)) return std::nullopt;
  return std::string(text);
}

// --- Space-delimited -------------------------------------------------------------------------

// Splits a message into fields at runs of blanks; "..." and [...] are one field each, without
// the quotes or brackets (\" does not end a quoted field). A quote or bracket that is never
// closed is an ordinary character.
void tokenize(std::string_view message, std::vector<std::string_view>* out) {
  out->clear();
  std::size_t i = 0, n = message.size();
  for (;;) {
    while (i < n && is_space(message[i])) ++i;
    if (i >= n) return;
    char c = message[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (j < n && message[j] != '"') j += (message[j] == '\\' && j + 1 < n) ? 2 : 1;
      if (j < n) {
        out->push_back(message.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    } else if (c == '[') {
      std::size_t j = i + 1;
      int depth = 1;
      for (; j < n; ++j) {
        if (message[j] == '[') ++depth;
        else if (message[j] == ']' && --depth == 0) break;
      }
      if (j < n) {
        out->push_back(message.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    std::size_t j = i;
    while (j < n && !is_space(message[j])) ++j;
    out->push_back(message.substr(i, j - i));
    i = j;
  }
}

bool slot_matches(const Impl& m, const Slot& slot, std::string_view field) {
  if (slot.kind != Slot::kConditional) return true;
  return eval_node(m, slot.expr, [&](const Condition& c) {
    return compare(m, c, field, needs_number(c) ? parse_number(field) : std::nullopt);
  });
}

bool segment_matches(const Impl& m, const Segment& seg, const std::vector<std::string_view>& fields, std::size_t at) {
  for (std::size_t k = 0; k < seg.length; ++k)
    if (!slot_matches(m, m.slots[seg.first_slot + k], fields[at + k])) return false;
  return true;
}

// Binds the slots to the fields: without `...` the counts must be equal; with it, the first
// segment is anchored at the start, the last at the end, and those in between are placed
// leftmost (which finds a binding whenever one exists). starts[s] = first field of segment s.
bool match_fields(const Impl& m, const std::vector<std::string_view>& fields, std::vector<std::size_t>* starts) {
  std::size_t n = fields.size();
  const auto& segs = m.segments;
  starts->assign(segs.size(), 0);
  if (m.ellipses == 0) return n == m.fixed && segment_matches(m, segs[0], fields, 0);
  if (n < m.fixed) return false;
  const Segment& last = segs.back();
  (*starts)[segs.size() - 1] = n - last.length;
  if (!segment_matches(m, segs[0], fields, 0) || !segment_matches(m, last, fields, n - last.length)) return false;
  std::size_t pos = segs[0].length;
  std::size_t limit = n - last.length;
  for (std::size_t s = 1; s + 1 < segs.size(); ++s) {
    const Segment& seg = segs[s];
    bool placed = false;
    for (std::size_t p = pos; p + seg.length <= limit; ++p) {
      if (segment_matches(m, seg, fields, p)) {
        (*starts)[s] = p;
        pos = p + seg.length;
        placed = true;
        break;
      }
    }
    if (!placed) return false;
  }
  return true;
}

struct DelimitedScratch {
  std::vector<std::string_view> fields;
  std::vector<std::size_t> starts;
  std::vector<int> owner;
};

DelimitedScratch& delimited_scratch() {
  thread_local DelimitedScratch scratch;
  return scratch;
}

// Slot index bound to each field, or -1 for fields swallowed by `...`.
void bind_owners(const Impl& m, DelimitedScratch& s) {
  s.owner.assign(s.fields.size(), -1);
  for (std::size_t seg = 0; seg < m.segments.size(); ++seg)
    for (std::size_t k = 0; k < m.segments[seg].length; ++k)
      s.owner[s.starts[seg] + k] = static_cast<int>(m.segments[seg].first_slot + k);
}

bool is_named(const Slot& slot) { return slot.kind == Slot::kNamed || slot.kind == Slot::kConditional; }

std::optional<std::size_t> positional(std::string_view selector) {  // "$3" -> 2
  if (selector.size() < 2 || selector[0] != '$' || selector.size() > 10) return std::nullopt;
  std::size_t n = 0;
  for (char c : selector.substr(1)) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n == 0) return std::nullopt;
  return n - 1;
}

std::optional<std::string> extract_delimited(const Impl& m, const DelimitedScratch& s, std::string_view selector) {
  if (selector.size() < 2 || selector[0] != '$') return std::nullopt;
  std::string_view name = selector.substr(1);
  for (std::size_t f = 0; f < s.owner.size(); ++f) {
    int o = s.owner[f];
    if (o >= 0 && is_named(m.slots[static_cast<std::size_t>(o)]) && m.slots[static_cast<std::size_t>(o)].name == name)
      return std::string(s.fields[f]);
  }
  if (auto index = positional(selector); index && *index < s.fields.size()) return std::string(s.fields[*index]);
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

FilterPattern::FilterPattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FilterPattern::~FilterPattern() = default;

std::shared_ptr<const FilterPattern> FilterPattern::compile(std::string_view pattern, std::string* error) {
  auto set_error = [&](std::string message) {
    if (error) *error = std::move(message);
    return nullptr;
  };
  if (count_chars(pattern) > kMaxPatternLength) {
    return set_error("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: "
                     "Member must have length less than or equal to 1024");
  }
  auto impl = std::make_unique<Impl>();
  impl->source = std::string(pattern);
  Parser parser(impl->source, *impl);
  if (!parser.parse()) return set_error(parser.error().empty() ? "Invalid filter pattern" : parser.error());
  return std::shared_ptr<const FilterPattern>(new FilterPattern(std::move(impl)));
}

bool FilterPattern::matches(std::string_view message) const {
  const Impl& m = *impl_;
  switch (m.kind) {
    case Kind::kMatchAll: return true;
    case Kind::kTerms: return match_terms(m, message);
    case Kind::kJson: {
      simdjson::dom::element root;
      if (!parse_json_message(message, &root)) return false;
      return eval_node(m, m.root, [&](const Condition& c) { return eval_json_condition(m, c, root); });
    }
    case Kind::kSpaceDelimited: {
      DelimitedScratch& s = delimited_scratch();
      tokenize(message, &s.fields);
      return match_fields(m, s.fields, &s.starts);
    }
  }
  return false;
}

bool FilterPattern::matches(std::string_view message, FilterMatch* out) const {
  if (!out) return matches(message);
  out->extracted_values.clear();
  const Impl& m = *impl_;
  if (m.kind != Kind::kSpaceDelimited) return matches(message);
  DelimitedScratch& s = delimited_scratch();
  tokenize(message, &s.fields);
  if (!match_fields(m, s.fields, &s.starts)) return false;
  bind_owners(m, s);
  out->extracted_values.reserve(s.fields.size());
  for (std::size_t f = 0; f < s.fields.size(); ++f) {
    int o = s.owner[f];
    std::string key = "$";
    if (o >= 0 && is_named(m.slots[static_cast<std::size_t>(o)])) key += m.slots[static_cast<std::size_t>(o)].name;
    else key += std::to_string(f + 1);
    out->extracted_values.emplace_back(std::move(key), std::string(s.fields[f]));
  }
  return true;
}

bool FilterPattern::match_and_extract(std::string_view message, std::span<const std::string_view> selectors,
                                      std::vector<std::optional<std::string>>* values) const {
  const Impl& m = *impl_;
  std::vector<std::optional<std::string>> scratch;
  if (!values) values = &scratch;
  values->assign(selectors.size(), std::nullopt);
  switch (m.kind) {
    case Kind::kJson: {
      simdjson::dom::element root;
      if (!parse_json_message(message, &root)) return false;
      if (!eval_node(m, m.root, [&](const Condition& c) { return eval_json_condition(m, c, root); })) return false;
      for (std::size_t k = 0; k < selectors.size(); ++k) (*values)[k] = extract_json(root, selectors[k]);
      return true;
    }
    case Kind::kSpaceDelimited: {
      DelimitedScratch& s = delimited_scratch();
      tokenize(message, &s.fields);
      if (!match_fields(m, s.fields, &s.starts)) return false;
      bind_owners(m, s);
      for (std::size_t k = 0; k < selectors.size(); ++k) (*values)[k] = extract_delimited(m, s, selectors[k]);
      return true;
    }
    default: return matches(message);
  }
}

std::optional<std::string> FilterPattern::extract(std::string_view message, std::string_view selector) const {
  const Impl& m = *impl_;
  if (m.kind == Kind::kJson) {
    if (!selector.starts_with("$.")) return std::nullopt;
    simdjson::dom::element root;
    if (!parse_json_message(message, &root)) return std::nullopt;
    return extract_json(root, selector);
  }
  if (m.kind == Kind::kSpaceDelimited) {
    std::vector<std::optional<std::string>> values;
    match_and_extract(message, std::span<const std::string_view>(&selector, 1), &values);
    return values[0];
  }
  return std::nullopt;
}

bool FilterPattern::is_valid_selector(std::string_view selector) const {
  const Impl& m = *impl_;
  if (m.kind == Kind::kJson) {
    std::vector<PathStep> path;
    std::size_t pos = 0;
    return parse_path(selector, &pos, &path) && pos == selector.size();
  }
  if (m.kind == Kind::kSpaceDelimited) {
    if (selector.size() < 2 || selector[0] != '$') return false;
    for (const Slot& slot : m.slots)
      if (is_named(slot) && slot.name == selector.substr(1)) return true;
    return positional(selector).has_value();
  }
  return false;
}

FilterPattern::Kind FilterPattern::kind() const { return impl_->kind; }
int FilterPattern::regex_count() const { return static_cast<int>(impl_->regexes.size()); }
std::string_view FilterPattern::source() const { return impl_->source; }

}  // namespace vigil::logs
