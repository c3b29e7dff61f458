#include "services/cloudwatch/metric_math.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace vigil::cloudwatch::math {

namespace {

[[noreturn]] void fail(std::string message) { throw MathError{"ValidationError", std::move(message)}; }

enum Op : uint8_t { kAdd, kSub, kMul, kDiv, kPow, kLt, kLe, kGt, kGe, kEq, kNe, kAnd, kOr, kNeg, kPlus, kNot };

enum Fn : uint8_t {
  fMetrics, fSum, fAvg, fMin, fMax, fStddev, fRate, fDiff, fDiffTime, fFill, fIf, fAbs, fCeil,
  fFloor, fLog, fLog10, fSqrt, fPeriod, fRunningSum, fTimeSeries, fFirst, fLast, fSort, fSlice,
  fSearch, fAnomalyBand, fDatapointCount, fRemoveEmpty, fMetricCount, fMinute, fHour, fDay,
  fDate, fMonth, fYear, fEpoch,
};

struct FnInfo {
  std::string_view name;
  Fn fn;
  int min_args, max_args;
};

constexpr FnInfo kFunctions[] = {
    {"METRICS", fMetrics, 0, 1},        {"SUM", fSum, 1, 1},
    {"AVG", fAvg, 1, 1},                {"MIN", fMin, 1, 1},
    {"MAX", fMax, 1, 1},                {"STDDEV", fStddev, 1, 1},
    {"RATE", fRate, 1, 1},              {"DIFF", fDiff, 1, 1},
    {"DIFF_TIME", fDiffTime, 1, 1},     {"FILL", fFill, 2, 2},
    {"IF", fIf, 2, 3},                  {"ABS", fAbs, 1, 1},
    {"CEIL", fCeil, 1, 1},              {"FLOOR", fFloor, 1, 1},
    {"LOG", fLog, 1, 1},                {"LOG10", fLog10, 1, 1},
    {"SQRT", fSqrt, 1, 1},              {"PERIOD", fPeriod, 1, 1},
    {"RUNNING_SUM", fRunningSum, 1, 1}, {"TIME_SERIES", fTimeSeries, 1, 1},
    {"FIRST", fFirst, 1, 1},            {"LAST", fLast, 1, 1},
    {"SORT", fSort, 3, 4},              {"SLICE", fSlice, 3, 3},
    {"SEARCH", fSearch, 3, 3},          {"ANOMALY_DETECTION_BAND", fAnomalyBand, 1, 2},
    {"DATAPOINT_COUNT", fDatapointCount, 1, 1}, {"REMOVE_EMPTY", fRemoveEmpty, 1, 1},
    {"METRIC_COUNT", fMetricCount, 1, 1}, {"MINUTE", fMinute, 1, 1},
    {"HOUR", fHour, 1, 1},              {"DAY", fDay, 1, 1},
    {"DATE", fDate, 1, 1},              {"MONTH", fMonth, 1, 1},
    {"YEAR", fYear, 1, 1},              {"EPOCH", fEpoch, 1, 1},
};

const FnInfo* find_function(std::string_view name) {
  for (const auto& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

bool is_stat_keyword(std::string_view w) { return w == "SUM" || w == "AVG" || w == "MIN" || w == "MAX"; }
bool is_order_keyword(std::string_view w) { return w == "ASC" || w == "DESC"; }
bool is_fill_keyword(std::string_view w) { return w == "REPEAT" || w == "LINEAR"; }

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_lower(c) || is_upper(c) || is_digit(c) || c == '_'; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent over the raw text (no token vector). Precedence, low to high:
//   OR ||   <   AND &&   <   NOT   <   == != < <= > >=   <   + -   <   * /   <   unary - +
//   <   ^ (right-associative, so -2^2 = -4 and 2^-1 = 0.5)   <   primary
// Cost: O(length); recursion bounded by kMaxDepth.

class Parser {
 public:
  explicit Parser(Expression& e) : e_(e), s_(e.text_) {}

  int32_t parse_all() {
    int32_t root = parse_or();
    skip_space();
    if (pos_ < s_.size()) unexpected();
    check_keywords(root, false);
    return root;
  }

 private:
  Expression& e_;
  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth)
        fail("The expression is too deeply nested: the maximum depth is " + std::to_string(kMaxDepth) + ".");
    }
    ~DepthGuard() { --p.depth_; }
  };

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool at_end() {
    skip_space();
    return pos_ >= s_.size();
  }
  [[noreturn]] void unexpected() {
    skip_space();
    if (pos_ >= s_.size()) fail("Syntax error: unexpected end of expression.");
    size_t n = 1;
    if (is_word(s_[pos_]))
      while (pos_ + n < s_.size() && is_word(s_[pos_ + n]) && n < 32) ++n;
    fail("Syntax error at position " + std::to_string(pos_ + 1) + ": unexpected '" +
         std::string(s_.substr(pos_, n)) + "'.");
  }
  // Consumes `tok` if next (a word operator must not run into a longer word: "ANDROID").
  bool accept(std::string_view tok) {
    skip_space();
    if (s_.substr(pos_, tok.size()) != tok) return false;
    if (is_upper(tok[0]) && pos_ + tok.size() < s_.size() && is_word(s_[pos_ + tok.size()])) return false;
    pos_ += tok.size();
    return true;
  }
  void expect(char c) {
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != c) unexpected();
    ++pos_;
  }

  int32_t add(Expression::Node n) {
    int height = 1;
    for (int32_t a : n.args) height = std::max(height, heights_[a] + 1);
    if (height > kMaxDepth)
      fail("The expression is too deeply nested: the maximum depth is " + std::to_string(kMaxDepth) + ".");
    heights_.push_back(height);
    e_.nodes_.push_back(std::move(n));
    return static_cast<int32_t>(e_.nodes_.size() - 1);
  }
  std::vector<int> heights_;

  int32_t make(Expression::Kind kind, uint8_t op, std::vector<int32_t> args, size_t begin) {
    Expression::Node n;
    n.kind = kind;
    n.op = op;
    n.args = std::move(args);
    n.begin = static_cast<uint32_t>(begin);
    n.end = static_cast<uint32_t>(pos_);
    return add(std::move(n));
  }
  size_t begin_of(int32_t node) const { return e_.nodes_[node].begin; }

  int32_t parse_or() {
    int32_t l = parse_and();
    while (accept("||") || accept("OR")) l = make(Expression::Kind::Binary, kOr, {l, parse_and()}, begin_of(l));
    return l;
  }
  int32_t parse_and() {
    int32_t l = parse_not();
    while (accept("&&") || accept("AND")) l = make(Expression::Kind::Binary, kAnd, {l, parse_not()}, begin_of(l));
    return l;
  }
  int32_t parse_not() {
    skip_space();
    size_t b = pos_;
    if (accept("NOT")) {
      DepthGuard g(*this);
      return make(Expression::Kind::Unary, kNot, {parse_not()}, b);
    }
    return parse_cmp();
  }
  int32_t parse_cmp() {
    int32_t l = parse_add();
    for (;;) {
      uint8_t op;
      if (accept("<=")) op = kLe;
      else if (accept(">=")) op = kGe;
      else if (accept("==")) op = kEq;
      else if (accept("!=")) op = kNe;
      else if (accept("<")) op = kLt;
      else if (accept(">")) op = kGt;
      else return l;
      l = make(Expression::Kind::Binary, op, {l, parse_add()}, begin_of(l));
    }
  }
  int32_t parse_add() {
    int32_t l = parse_mul();
    for (;;) {
      uint8_t op;
      if (accept("+")) op = kAdd;
      else if (accept("-")) op = kSub;
      else return l;
      l = make(Expression::Kind::Binary, op, {l, parse_mul()}, begin_of(l));
    }
  }
  int32_t parse_mul() {
    int32_t l = parse_unary();
    for (;;) {
      uint8_t op;
      if (accept("*")) op = kMul;
      else if (accept("/")) op = kDiv;
      else return l;
      l = make(Expression::Kind::Binary, op, {l, parse_unary()}, begin_of(l));
    }
  }
  // Only the recursive paths take a depth step, so the limit counts nesting levels.
  int32_t parse_unary() {
    skip_space();
    size_t b = pos_;
    if (accept("-")) {
      DepthGuard g(*this);
      return make(Expression::Kind::Unary, kNeg, {parse_unary()}, b);
    }
    if (accept("+")) {
      DepthGuard g(*this);
      return make(Expression::Kind::Unary, kPlus, {parse_unary()}, b);
    }
    int32_t base = parse_primary();
    if (accept("^")) {
      DepthGuard g(*this);
      return make(Expression::Kind::Binary, kPow, {base, parse_unary()}, b);
    }
    return base;
  }

  int32_t parse_primary() {
    DepthGuard g(*this);
    skip_space();
    if (pos_ >= s_.size()) unexpected();
    size_t b = pos_;
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      int32_t inner = parse_or();
      expect(')');
      // Keep the parentheses in the span so labels read as written.
      e_.nodes_[inner].begin = static_cast<uint32_t>(b);
      e_.nodes_[inner].end = static_cast<uint32_t>(pos_);
      return inner;
    }
    if (c == '[') {
      ++pos_;
      std::vector<int32_t> items;
      if (!accept("]")) {
        do items.push_back(parse_or());
        while (accept(","));
        expect(']');
      }
      return make(Expression::Kind::Array, 0, std::move(items), b);
    }
    if (c == '\'') return parse_string();
    if (is_digit(c) || c == '.') return parse_number();
    if (is_lower(c)) {
      while (pos_ < s_.size() && is_word(s_[pos_])) ++pos_;
      Expression::Node n;
      n.kind = Expression::Kind::Id;
      n.text = std::string(s_.substr(b, pos_ - b));
      n.begin = static_cast<uint32_t>(b);
      n.end = static_cast<uint32_t>(pos_);
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == '(') fail("Unknown function: " + n.text + ".");
      return add(std::move(n));
    }
    if (is_upper(c)) return parse_word();
    unexpected();
  }

  int32_t parse_word() {
    size_t b = pos_;
    while (pos_ < s_.size() && is_word(s_[pos_])) ++pos_;
    std::string word(s_.substr(b, pos_ - b));
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != '(') {
      // A bare keyword (SORT's AVG/DESC, FILL's REPEAT); check_keywords rejects it elsewhere.
      Expression::Node n;
      n.kind = Expression::Kind::Keyword;
      n.text = std::move(word);
      n.begin = static_cast<uint32_t>(b);
      n.end = static_cast<uint32_t>(pos_);
      return add(std::move(n));
    }
    const FnInfo* fn = find_function(word);
    if (!fn) fail("Unknown function: " + word + ".");
    ++pos_;  // '('
    std::vector<int32_t> args;
    if (!accept(")")) {
      do args.push_back(parse_or());
      while (accept(","));
      expect(')');
    }
    int n = static_cast<int>(args.size());
    if (n < fn->min_args || n > fn->max_args) {
      std::string want = fn->min_args == fn->max_args
                             ? std::to_string(fn->min_args)
                             : std::to_string(fn->min_args) + " to " + std::to_string(fn->max_args);
      fail("Invalid number of arguments for function " + word + ": expected " + want + ", got " +
           std::to_string(n) + ".");
    }
    int32_t id = make(Expression::Kind::Call, fn->fn, std::move(args), b);
    e_.nodes_[id].text = std::move(word);
    return id;
  }

  int32_t parse_string() {
    size_t b = pos_++;
    std::string value;
    for (;;) {
      if (pos_ >= s_.size()) fail("Syntax error at position " + std::to_string(b + 1) + ": unterminated string.");
      char c = s_[pos_++];
      if (c == '\'') break;
      if (c == '\\' && pos_ < s_.size()) c = s_[pos_++];
      value.push_back(c);
    }
    Expression::Node n;
    n.kind = Expression::Kind::String;
    n.text = std::move(value);
    n.begin = static_cast<uint32_t>(b);
    n.end = static_cast<uint32_t>(pos_);
    return add(std::move(n));
  }

  int32_t parse_number() {
    size_t b = pos_;
    size_t digits = 0;
    while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_, ++digits;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_, ++digits;
    }
    if (digits == 0) unexpected_at(b);
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (p < s_.size() && is_digit(s_[p])) {
        while (p < s_.size() && is_digit(s_[p])) ++p;
        pos_ = p;
      }
    }
    if (pos_ < s_.size() && is_word(s_[pos_])) unexpected_at(b);  // "2m1"
    double v = 0;
    auto r = std::from_chars(s_.data() + b, s_.data() + pos_, v);
    if (r.ec != std::errc() || !std::isfinite(v))
      fail("Syntax error at position " + std::to_string(b + 1) + ": number out of range.");
    Expression::Node n;
    n.kind = Expression::Kind::Number;
    n.number = v;
    n.begin = static_cast<uint32_t>(b);
    n.end = static_cast<uint32_t>(pos_);
    return add(std::move(n));
  }
  [[noreturn]] void unexpected_at(size_t p) {
    pos_ = p;
    unexpected();
  }

  // Bare keywords are only meaningful as FILL's 2nd and SORT's 2nd/3rd argument.
  void check_keywords(int32_t node, bool allowed) {
    const auto& n = e_.nodes_[node];
    if (n.kind == Expression::Kind::Keyword) {
      if (!allowed) fail("Syntax error at position " + std::to_string(n.begin + 1) + ": unexpected '" + n.text + "'.");
      return;
    }
    for (size_t i = 0; i < n.args.size(); ++i) {
      bool ok = n.kind == Expression::Kind::Call &&
                ((n.op == fFill && i == 1) || (n.op == fSort && (i == 1 || i == 2)));
      check_keywords(n.args[i], ok);
    }
  }
};

Expression Expression::parse(std::string_view text) {
  if (text.size() > kMaxExpressionLength)
    fail("The expression is too long: the maximum length is " + std::to_string(kMaxExpressionLength) + " characters.");
  Expression e;
  e.text_ = std::string(text);
  bool blank = std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
  if (blank) fail("The expression must not be empty.");
  Parser p(e);
  e.root_ = p.parse_all();
  return e;
}

std::vector<std::string> Expression::referenced_ids() const {
  std::vector<std::string> ids;
  for (const auto& n : nodes_)  // O(nodes * ids): both tiny
    if (n.kind == Kind::Id && std::find(ids.begin(), ids.end(), n.text) == ids.end()) ids.push_back(n.text);
  // nodes_ is in creation (post-)order, which for ids is left-to-right source order.
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Values and series helpers.

namespace {

struct Value {
  enum class Kind { Scalar, String, Keyword, Series, Array } kind = Kind::Scalar;
  double num = 0;
  std::string str;             // String/Keyword
  std::vector<Series> series;  // Series: exactly one; Array: any number
  // For a scalar computed from a series (AVG(m1)): the timestamps it stands for when it is
  // the final result.
  std::vector<int64_t> origin;

  bool is_scalar() const { return kind == Kind::Scalar; }
  bool has_series() const { return kind == Kind::Series || kind == Kind::Array; }
};

Value scalar(double v, std::vector<int64_t> origin = {}) {
  Value r;
  r.num = v;
  r.origin = std::move(origin);
  return r;
}
Value single(Series s) {
  Value r;
  r.kind = Value::Kind::Series;
  r.series.push_back(std::move(s));
  return r;
}
Value array(std::vector<Series> s) {
  if (s.size() > kMaxSeries)
    fail("The expression returns too many time series: the maximum is " + std::to_string(kMaxSeries) + ".");
  Value r;
  r.kind = Value::Kind::Array;
  r.series = std::move(s);
  return r;
}
// Same shape as `like` (single series or array) with new contents.
Value same_shape(const Value& like, std::vector<Series> s) {
  if (like.kind == Value::Kind::Series && s.size() == 1) return single(std::move(s[0]));
  return array(std::move(s));
}

void push(Series& s, int64_t t, double v) {
  if (!std::isfinite(v)) return;  // CloudWatch returns no datapoint for inf/NaN
  s.timestamps.push_back(t);
  s.values.push_back(v);
}

// Value at `t` if the series has a point there: O(log n).
std::optional<double> at(const Series& s, int64_t t) {
  auto it = std::lower_bound(s.timestamps.begin(), s.timestamps.end(), t);
  if (it == s.timestamps.end() || *it != t) return std::nullopt;
  return s.values[it - s.timestamps.begin()];
}

template <class F>
Series map_series(const Series& s, F f) {  // O(n)
  Series r;
  r.label = s.label;
  r.timestamps.reserve(s.values.size());
  r.values.reserve(s.values.size());
  for (size_t i = 0; i < s.values.size(); ++i) push(r, s.timestamps[i], f(s.timestamps[i], s.values[i]));
  return r;
}

// Aligns on timestamps: a timestamp missing on either side is dropped. O(n + m) merge.
template <class F>
Series zip_series(const Series& a, const Series& b, F f) {
  Series r;
  r.label = a.label.empty() ? b.label : a.label;
  size_t i = 0, j = 0;
  while (i < a.timestamps.size() && j < b.timestamps.size()) {
    if (a.timestamps[i] < b.timestamps[j]) ++i;
    else if (a.timestamps[i] > b.timestamps[j]) ++j;
    else {
      push(r, a.timestamps[i], f(a.values[i], b.values[j]));
      ++i, ++j;
    }
  }
  return r;
}

void need_numeric(const Value& v, std::string_view what) {
  if (v.kind == Value::Kind::String || v.kind == Value::Kind::Keyword)
    fail(std::string(what) + " expects a number or time series, not '" + v.str + "'.");
}

// Element-wise unary function over a scalar, series or array.
template <class F>
Value map_value(const Value& v, std::string_view what, F f) {
  need_numeric(v, what);
  if (v.is_scalar()) return scalar(f(0, v.num), v.origin);
  std::vector<Series> out;
  out.reserve(v.series.size());
  for (const auto& s : v.series) out.push_back(map_series(s, f));
  return same_shape(v, std::move(out));
}

// Binary operator with broadcasting: scalars over series, a series over each array member,
// arrays member by member (sizes must match).
template <class F>
Value combine(const Value& a, const Value& b, std::string_view what, F f) {
  need_numeric(a, what);
  need_numeric(b, what);
  if (a.is_scalar() && b.is_scalar()) return scalar(f(a.num, b.num), a.origin.empty() ? b.origin : a.origin);
  std::vector<Series> out;
  if (a.is_scalar()) {
    for (const auto& s : b.series) out.push_back(map_series(s, [&](int64_t, double v) { return f(a.num, v); }));
    return same_shape(b, std::move(out));
  }
  if (b.is_scalar()) {
    for (const auto& s : a.series) out.push_back(map_series(s, [&](int64_t, double v) { return f(v, b.num); }));
    return same_shape(a, std::move(out));
  }
  if (a.kind == Value::Kind::Series && b.kind == Value::Kind::Series) {
    out.push_back(zip_series(a.series[0], b.series[0], f));
    return single(std::move(out[0]));
  }
  if (a.kind == Value::Kind::Series) {
    for (const auto& s : b.series) out.push_back(zip_series(a.series[0], s, f));
  } else if (b.kind == Value::Kind::Series) {
    for (const auto& s : a.series) out.push_back(zip_series(s, b.series[0], f));
  } else {
    if (a.series.size() != b.series.size())
      fail("Mismatched array sizes: the arrays have " + std::to_string(a.series.size()) + " and " +
           std::to_string(b.series.size()) + " time series.");
    for (size_t i = 0; i < a.series.size(); ++i) out.push_back(zip_series(a.series[i], b.series[i], f));
  }
  return array(std::move(out));
}

enum class Stat { Sum, Avg, Min, Max, Stddev, Count };

double stat_of(Stat st, const double* v, size_t n) {
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0, mn = v[0], mx = v[0];
  for (size_t i = 0; i < n; ++i) sum += v[i], mn = std::min(mn, v[i]), mx = std::max(mx, v[i]);
  switch (st) {
    case Stat::Sum: return sum;
    case Stat::Avg: return sum / static_cast<double>(n);
    case Stat::Min: return mn;
    case Stat::Max: return mx;
    case Stat::Count: return static_cast<double>(n);
    case Stat::Stddev: {  // population standard deviation, two-pass for accuracy
      double mean = sum / static_cast<double>(n), sq = 0;
      for (size_t i = 0; i < n; ++i) sq += (v[i] - mean) * (v[i] - mean);
      return std::sqrt(sq / static_cast<double>(n));
    }
  }
  return 0;
}

// Across an array: one value per timestamp from the members that have it.
// O(P log P) for P points in all.
Series stat_across(Stat st, const std::vector<Series>& all, std::string label) {
  std::vector<std::pair<int64_t, double>> pts;
  for (const auto& s : all)
    for (size_t i = 0; i < s.values.size(); ++i) pts.emplace_back(s.timestamps[i], s.values[i]);
  std::sort(pts.begin(), pts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  Series r;
  r.label = std::move(label);
  std::vector<double> group;
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    group.clear();
    while (j < pts.size() && pts[j].first == pts[i].first) group.push_back(pts[j++].second);
    push(r, pts[i].first, stat_of(st, group.data(), group.size()));
    i = j;
  }
  return r;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Slots of the window [start, end) every period, in the phase of `phase_of` (a timestamp of
// the series being filled) so filled points line up with real ones.
std::vector<int64_t> grid(const EvalContext& ctx, std::optional<int64_t> phase_of) {
  int64_t p = ctx.period_s > 0 ? ctx.period_s : 60;
  int64_t phase = phase_of ? *phase_of - floor_div(*phase_of, p) * p : 0;
  int64_t first = floor_div(ctx.start_s - phase, p) * p + phase;
  if (first < ctx.start_s) first += p;
  std::vector<int64_t> out;
  if (ctx.end_s <= first) return out;
  uint64_t n = (static_cast<uint64_t>(ctx.end_s) - static_cast<uint64_t>(first) + static_cast<uint64_t>(p) - 1) /
               static_cast<uint64_t>(p);
  if (n > kMaxPoints)
    fail("The query window has too many periods: the maximum is " + std::to_string(kMaxPoints) + " datapoints.");
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) out.push_back(first + static_cast<int64_t>(i) * p);
  return out;
}

// Days since 1970-01-01 -> civil date (H. Hinnant's algorithm).
void civil(int64_t days, int64_t& y, unsigned& m, unsigned& d) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

double time_part(Fn fn, int64_t t) {
  int64_t days = floor_div(t, 86400), secs = t - days * 86400;
  int64_t y;
  unsigned m, d;
  switch (fn) {
    case fMinute: return static_cast<double>((secs / 60) % 60);
    case fHour: return static_cast<double>(secs / 3600);
    case fDay: return static_cast<double>(((days % 7 + 7) % 7 + 3) % 7 + 1);  // 1970-01-01 was a Thursday; Monday = 1
    case fEpoch: return static_cast<double>(t);
    default: break;
  }
  civil(days, y, m, d);
  if (fn == fDate) return d;
  if (fn == fMonth) return m;
  return static_cast<double>(y);
}

int64_t to_int(double v, int64_t lo, int64_t hi, std::string_view what) {
  if (std::isnan(v)) fail(std::string(what) + " must be a number.");
  if (v <= static_cast<double>(lo)) return lo;
  if (v >= static_cast<double>(hi)) return hi;
  return static_cast<int64_t>(v);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Evaluator: recursion over the node tree (height <= kMaxDepth, checked by the parser).

class Evaluator {
 public:
  Evaluator(const Expression& e, const EvalContext& ctx) : e_(e), ctx_(ctx) {}

  Value eval(int32_t id) {
    const Expression::Node& n = e_.nodes_[id];
    switch (n.kind) {
      case Expression::Kind::Number: return scalar(n.number);
      case Expression::Kind::String:
      case Expression::Kind::Keyword: {
        Value v;
        v.kind = n.kind == Expression::Kind::String ? Value::Kind::String : Value::Kind::Keyword;
        v.str = n.text;
        return v;
      }
      case Expression::Kind::Id: return lookup(n.text);
      case Expression::Kind::Array: {
        std::vector<Series> all;  // nested arrays flatten
        for (int32_t a : n.args) {
          Value v = eval(a);
          if (!v.has_series()) fail("An array may contain only time series.");
          for (auto& s : v.series) all.push_back(std::move(s));
          if (all.size() > kMaxSeries) array(std::move(all));  // throws
        }
        return array(std::move(all));
      }
      case Expression::Kind::Unary: return unary(n);
      case Expression::Kind::Binary: return binary(n);
      case Expression::Kind::Call: return call(n);
    }
    fail("Unsupported expression.");
  }

  std::string span(const Expression::Node& n) const { return e_.text_.substr(n.begin, n.end - n.begin); }

 private:
  const Expression& e_;
  const EvalContext& ctx_;

  Value lookup(const std::string& id) {
    const std::vector<Series>* r = ctx_.lookup ? ctx_.lookup(id) : nullptr;
    if (!r) fail("Unknown metric or expression id: " + id + ".");
    if (r->size() == 1) return single((*r)[0]);
    return array(*r);
  }

  Value unary(const Expression::Node& n) {
    Value v = eval(n.args[0]);
    switch (n.op) {
      case kNeg: return map_value(v, "-", [](int64_t, double x) { return -x; });
      case kPlus: return map_value(v, "+", [](int64_t, double x) { return x; });
      default: return map_value(v, "NOT", [](int64_t, double x) { return x == 0 ? 1.0 : 0.0; });
    }
  }

  Value binary(const Expression::Node& n) {
    Value a = eval(n.args[0]);
    Value b = eval(n.args[1]);
    auto b2d = [](bool x) { return x ? 1.0 : 0.0; };
    switch (n.op) {
      case kAdd: return combine(a, b, "+", [](double x, double y) { return x + y; });
      case kSub: return combine(a, b, "-", [](double x, double y) { return x - y; });
      case kMul: return combine(a, b, "*", [](double x, double y) { return x * y; });
      case kDiv: return combine(a, b, "/", [](double x, double y) { return x / y; });
      case kPow: return combine(a, b, "^", [](double x, double y) { return std::pow(x, y); });
      case kLt: return combine(a, b, "<", [&](double x, double y) { return b2d(x < y); });
      case kLe: return combine(a, b, "<=", [&](double x, double y) { return b2d(x <= y); });
      case kGt: return combine(a, b, ">", [&](double x, double y) { return b2d(x > y); });
      case kGe: return combine(a, b, ">=", [&](double x, double y) { return b2d(x >= y); });
      case kEq: return combine(a, b, "==", [&](double x, double y) { return b2d(x == y); });
      case kNe: return combine(a, b, "!=", [&](double x, double y) { return b2d(x != y); });
      case kAnd: return combine(a, b, "AND", [&](double x, double y) { return b2d(x != 0 && y != 0); });
      default: return combine(a, b, "OR", [&](double x, double y) { return b2d(x != 0 || y != 0); });
    }
  }

  // Argument accessors with AWS-like complaints.
  const std::vector<Series>& series_arg(const Value& v, const std::string& fn, size_t i) {
    if (!v.has_series()) fail(fn + " expects a time series or an array of time series as argument " + std::to_string(i + 1) + ".");
    return v.series;
  }
  double number_arg(const Value& v, const std::string& fn, size_t i) {
    if (!v.is_scalar()) fail(fn + " expects a number as argument " + std::to_string(i + 1) + ".");
    return v.num;
  }
  const std::string& string_arg(const Value& v, const std::string& fn, size_t i) {
    if (v.kind != Value::Kind::String) fail(fn + " expects a string as argument " + std::to_string(i + 1) + ".");
    return v.str;
  }

  Value call(const Expression::Node& n) {
    const std::string& name = n.text;
    std::vector<Value> args;
    args.reserve(n.args.size());
    for (int32_t a : n.args) args.push_back(eval(a));
    Fn fn = static_cast<Fn>(n.op);
    switch (fn) {
      case fMetrics: return metrics(args, name);
      case fSum: return aggregate(Stat::Sum, args[0], n);
      case fAvg: return aggregate(Stat::Avg, args[0], n);
      case fMin: return aggregate(Stat::Min, args[0], n);
      case fMax: return aggregate(Stat::Max, args[0], n);
      case fStddev: return aggregate(Stat::Stddev, args[0], n);
      case fDatapointCount: return aggregate(Stat::Count, args[0], n);
      case fAbs: return map_value(args[0], name, [](int64_t, double x) { return std::fabs(x); });
      case fCeil: return map_value(args[0], name, [](int64_t, double x) { return std::ceil(x); });
      case fFloor: return map_value(args[0], name, [](int64_t, double x) { return std::floor(x); });
      case fLog: return map_value(args[0], name, [](int64_t, double x) { return std::log(x); });
      case fLog10: return map_value(args[0], name, [](int64_t, double x) { return std::log10(x); });
      case fSqrt: return map_value(args[0], name, [](int64_t, double x) { return std::sqrt(x); });
      case fPeriod: {
        series_arg(args[0], name, 0);
        double p = static_cast<double>(ctx_.period_s);
        return map_value(args[0], name, [p](int64_t, double) { return p; });
      }
      case fMinute: case fHour: case fDay: case fDate: case fMonth: case fYear: case fEpoch:
        series_arg(args[0], name, 0);
        return map_value(args[0], name, [fn](int64_t t, double) { return time_part(fn, t); });
      case fRate: case fDiff: case fDiffTime: case fRunningSum: return sequential(fn, args[0], name);
      case fFill: return fill(args[0], args[1], name);
      case fIf: return if_(args, n);
      case fTimeSeries: {
        double v = number_arg(args[0], name, 0);
        Series s;
        s.label = span(n);
        for (int64_t t : grid(ctx_, std::nullopt)) push(s, t, v);
        return single(std::move(s));
      }
      case fFirst: case fLast: {
        const auto& all = series_arg(args[0], name, 0);
        if (args[0].kind == Value::Kind::Series) return args[0];
        if (all.empty()) return array({});
        return single(fn == fFirst ? all.front() : all.back());
      }
      case fRemoveEmpty: {
        std::vector<Series> out;
        for (const auto& s : series_arg(args[0], name, 0))
          if (!s.values.empty()) out.push_back(s);
        return array(std::move(out));
      }
      case fMetricCount: return scalar(static_cast<double>(series_arg(args[0], name, 0).size()));
      case fSort: return sort(args, name);
      case fSlice: {
        const auto& all = series_arg(args[0], name, 0);
        int64_t size = static_cast<int64_t>(all.size());
        int64_t b = to_int(number_arg(args[1], name, 1), 0, size, "SLICE start");
        int64_t e = to_int(number_arg(args[2], name, 2), 0, size, "SLICE end");
        std::vector<Series> out;
        for (int64_t i = b; i < e; ++i) out.push_back(all[i]);
        return array(std::move(out));
      }
      case fSearch: {
        if (!ctx_.search) fail("SEARCH is not supported here.");
        const std::string& q = string_arg(args[0], name, 0);
        const std::string& stat = string_arg(args[1], name, 1);
        int64_t period = to_int(number_arg(args[2], name, 2), 1, int64_t{1} << 40, "SEARCH period");
        return array(ctx_.search(q, stat, period));
      }
      case fAnomalyBand: {
        if (!ctx_.anomaly_band) fail("ANOMALY_DETECTION_BAND is not supported here.");
        const auto& all = series_arg(args[0], name, 0);
        double k = args.size() > 1 ? number_arg(args[1], name, 1) : 2.0;
        std::vector<Series> out;
        for (const auto& s : all) {
          auto band = ctx_.anomaly_band(s, k);
          if (band.first.label.empty()) band.first.label = s.label + " Lower";
          if (band.second.label.empty()) band.second.label = s.label + " Upper";
          out.push_back(std::move(band.first));
          out.push_back(std::move(band.second));
        }
        return array(std::move(out));
      }
    }
    fail("Unknown function: " + name + ".");
  }

  Value metrics(const std::vector<Value>& args, const std::string& name) {
    std::string prefix = args.empty() ? "" : string_arg(args[0], name, 0);
    if (!ctx_.all_metrics) return array({});
    std::vector<Series> out;
    for (const auto& entry : ctx_.all_metrics()) {
      if (!entry.second || entry.first.compare(0, prefix.size(), prefix) != 0) continue;
      for (const auto& s : *entry.second) {
        out.push_back(s);
        if (out.size() > kMaxSeries) array(std::move(out));  // throws
      }
    }
    return array(std::move(out));
  }

  // Over an array: per timestamp across the members -> one series. Over one series: a
  // scalar (drawn at that series' timestamps if it is the final result).
  Value aggregate(Stat st, const Value& v, const Expression::Node& n) {
    need_numeric(v, n.text);
    if (v.is_scalar()) return st == Stat::Count ? scalar(1, v.origin) : st == Stat::Stddev ? scalar(0, v.origin) : v;
    if (v.kind == Value::Kind::Series) {
      const Series& s = v.series[0];
      return scalar(stat_of(st, s.values.data(), s.values.size()), s.timestamps);
    }
    return single(stat_across(st, v.series, span(n)));
  }

  // Functions of consecutive points; the first point has no predecessor and is dropped.
  Value sequential(Fn fn, const Value& v, const std::string& name) {
    std::vector<Series> out;
    for (const auto& s : series_arg(v, name, 0)) {
      Series r;
      r.label = s.label;
      double running = 0;
      for (size_t i = 0; i < s.values.size(); ++i) {
        if (fn == fRunningSum) {
          running += s.values[i];
          push(r, s.timestamps[i], running);
          continue;
        }
        if (i == 0) continue;
        double dt = static_cast<double>(s.timestamps[i] - s.timestamps[i - 1]);
        double dv = s.values[i] - s.values[i - 1];
        push(r, s.timestamps[i], fn == fDiff ? dv : fn == fDiffTime ? dt : dv / dt);
      }
      out.push_back(std::move(r));
    }
    return same_shape(v, std::move(out));
  }

  // FILL(m, value|REPEAT|LINEAR): every empty period slot of the window gets a value. `value`
  // may be a number or a series (its value at that timestamp). REPEAT carries the last real
  // value forward (the first one backward); LINEAR interpolates between the neighbours and is
  // flat beyond the ends. O(slots + points) per series.
  Value fill(const Value& m, const Value& how, const std::string& name) {
    if (m.is_scalar()) return m;
    const auto& all = series_arg(m, name, 0);
    bool repeat = how.kind == Value::Kind::Keyword && how.str == "REPEAT";
    bool linear = how.kind == Value::Kind::Keyword && how.str == "LINEAR";
    if ((how.kind == Value::Kind::Keyword && !is_fill_keyword(how.str)) || how.kind == Value::Kind::String)
      fail("FILL expects a number, a time series, REPEAT or LINEAR as argument 2.");
    if (how.kind == Value::Kind::Array) fail("FILL expects a single time series as argument 2.");
    std::vector<Series> out;
    for (const auto& s : all) {
      std::vector<int64_t> slots = grid(ctx_, s.timestamps.empty() ? std::nullopt : std::optional<int64_t>(s.timestamps[0]));
      if ((repeat || linear) && s.values.empty()) {
        out.push_back(s);
        continue;
      }
      Series r;
      r.label = s.label;
      size_t i = 0;  // next real point
      auto emit_missing = [&](int64_t t) {
        double v;
        if (repeat) v = i > 0 ? s.values[i - 1] : s.values[0];
        else if (linear) {
          if (i == 0) v = s.values[0];
          else if (i == s.values.size()) v = s.values.back();
          else {
            double t0 = static_cast<double>(s.timestamps[i - 1]), t1 = static_cast<double>(s.timestamps[i]);
            v = s.values[i - 1] + (s.values[i] - s.values[i - 1]) * (static_cast<double>(t) - t0) / (t1 - t0);
          }
        } else if (how.is_scalar()) v = how.num;
        else {
          auto x = at(how.series[0], t);
          if (!x) return;
          v = *x;
        }
        push(r, t, v);
      };
      for (int64_t t : slots) {
        while (i < s.values.size() && s.timestamps[i] < t) {  // real points off the grid stay
          push(r, s.timestamps[i], s.values[i]);
          ++i;
        }
        if (i < s.values.size() && s.timestamps[i] == t) {
          push(r, t, s.values[i]);
          ++i;
        } else {
          emit_missing(t);
        }
      }
      for (; i < s.values.size(); ++i) push(r, s.timestamps[i], s.values[i]);
      out.push_back(std::move(r));
    }
    return same_shape(m, std::move(out));
  }

  // IF(cond, a[, b]): per timestamp of cond, a where cond != 0, else b (no point without b).
  Value if_(const std::vector<Value>& args, const Expression::Node& n) {
    const Value& c = args[0];
    const Value& a = args[1];
    const Value* b = args.size() > 2 ? &args[2] : nullptr;
    for (const Value* v : {&c, &a, b})
      if (v) need_numeric(*v, "IF");
    if (c.is_scalar()) {
      if (c.num != 0) return a;
      if (b) return *b;
      if (a.is_scalar()) return scalar(std::numeric_limits<double>::quiet_NaN(), a.origin);
      std::vector<Series> empty(a.series.size());
      for (size_t i = 0; i < empty.size(); ++i) empty[i].label = a.series[i].label;
      return same_shape(a, std::move(empty));
    }
    // Width of the result: the array among the operands (all arrays must agree).
    size_t width = c.series.size();
    bool is_array = c.kind == Value::Kind::Array;
    for (const Value* v : {&a, b}) {
      if (!v || v->kind != Value::Kind::Array) continue;
      if (is_array && v->series.size() != width)
        fail("Mismatched array sizes: the arrays have " + std::to_string(width) + " and " +
             std::to_string(v->series.size()) + " time series.");
      width = v->series.size();
      is_array = true;
    }
    auto member = [](const Value& v, size_t i) -> const Series* {
      if (v.is_scalar()) return nullptr;
      return v.kind == Value::Kind::Array ? &v.series[i] : &v.series[0];
    };
    auto pick = [&](const Value& v, size_t i, int64_t t) -> std::optional<double> {
      const Series* s = member(v, i);
      return s ? at(*s, t) : std::optional<double>(v.num);
    };
    std::vector<Series> out;
    for (size_t i = 0; i < width; ++i) {
      const Series& cs = *member(c, i);
      Series r;
      const Series* as = member(a, i);
      r.label = as ? as->label : cs.label;
      if (r.label.empty()) r.label = span(n);
      for (size_t k = 0; k < cs.values.size(); ++k) {
        int64_t t = cs.timestamps[k];
        std::optional<double> v = cs.values[k] != 0 ? pick(a, i, t) : b ? pick(*b, i, t) : std::nullopt;
        if (v) push(r, t, *v);
      }
      out.push_back(std::move(r));
    }
    return is_array ? array(std::move(out)) : single(std::move(out[0]));
  }

  // SORT(array, SUM|AVG|MIN|MAX, ASC|DESC[, limit]); series with no points sort last.
  Value sort(const std::vector<Value>& args, const std::string& name) {
    const auto& all = series_arg(args[0], name, 0);
    if (args[1].kind != Value::Kind::Keyword || !is_stat_keyword(args[1].str))
      fail("SORT expects SUM, AVG, MIN or MAX as argument 2.");
    if (args[2].kind != Value::Kind::Keyword || !is_order_keyword(args[2].str))
      fail("SORT expects ASC or DESC as argument 3.");
    Stat st = args[1].str == "SUM" ? Stat::Sum : args[1].str == "AVG" ? Stat::Avg : args[1].str == "MIN" ? Stat::Min : Stat::Max;
    bool desc = args[2].str == "DESC";
    int64_t limit = static_cast<int64_t>(all.size());
    if (args.size() > 3) limit = to_int(number_arg(args[3], name, 3), 0, limit, "SORT limit");
    std::vector<std::pair<double, size_t>> keys;  // O(P + S log S)
    for (size_t i = 0; i < all.size(); ++i) keys.emplace_back(stat_of(st, all[i].values.data(), all[i].values.size()), i);
    std::stable_sort(keys.begin(), keys.end(), [desc](const auto& x, const auto& y) {
      if (std::isnan(x.first) || std::isnan(y.first)) return !std::isnan(x.first) && std::isnan(y.first);
      return desc ? x.first > y.first : x.first < y.first;
    });
    std::vector<Series> out;
    for (int64_t i = 0; i < limit; ++i) out.push_back(all[keys[i].second]);
    return array(std::move(out));
  }
};

std::vector<Series> Expression::evaluate(const EvalContext& ctx) const {
  if (root_ < 0) fail("The expression must not be empty.");
  Evaluator ev(*this, ctx);
  Value v = ev.eval(root_);
  switch (v.kind) {
    case Value::Kind::Series:
    case Value::Kind::Array: return std::move(v.series);
    case Value::Kind::Scalar: {
      Series s;
      s.label = text_;
      const std::vector<int64_t>& ts = v.origin.empty() ? grid(ctx, std::nullopt) : v.origin;
      for (int64_t t : ts) push(s, t, v.num);
      return {std::move(s)};
    }
    default: fail("The expression must return a time series or a number, not a string.");
  }
}

}  // namespace vigil::cloudwatch::math
