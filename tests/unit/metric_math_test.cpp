// Metric math: parsing, each function on small hand-computed series, alignment and errors.
#include "services/cloudwatch/metric_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace vigil::cloudwatch::math;

Series S(std::string label, std::vector<int64_t> ts, std::vector<double> vs) {
  return Series{std::move(label), std::move(ts), std::move(vs)};
}

// Queries m1..m4 (+ an empty m5) in request order over the window [0, 300) at period 60.
struct World {
  std::map<std::string, std::vector<Series>> data;
  std::vector<std::string> order;
  EvalContext ctx;
  std::string last_search, last_stat;
  int64_t last_period = 0;

  World() {
    add("m1", {S("m1", {0, 60, 120}, {1, 2, 3})});
    add("m2", {S("m2", {60, 120, 180}, {10, 20, 30})});
    add("m3", {S("m3", {0, 60, 180}, {0, 60, 240})});
    add("m4", {S("m4", {60, 180}, {10, 30})});
    add("m5", {S("m5", {}, {})});
    ctx.start_s = 0;
    ctx.end_s = 300;
    ctx.period_s = 60;
    ctx.lookup = [this](std::string_view id) -> const std::vector<Series>* {
      auto it = data.find(std::string(id));
      return it == data.end() ? nullptr : &it->second;
    };
    ctx.all_metrics = [this]() {
      std::vector<std::pair<std::string, const std::vector<Series>*>> out;
      for (const auto& id : order) out.emplace_back(id, &data.at(id));
      return out;
    };
  }
  void add(const std::string& id, std::vector<Series> s) {
    data[id] = std::move(s);
    order.push_back(id);
  }
  std::vector<Series> eval(const std::string& expr) const { return Expression::parse(expr).evaluate(ctx); }
  Series one(const std::string& expr) const {
    auto r = eval(expr);
    EXPECT_EQ(r.size(), 1u) << expr;
    return r.empty() ? Series{} : r[0];
  }
  // The value of a constant expression (drawn as a series whose points all carry it).
  double num(const std::string& expr) const {
    Series s = one(expr);
    EXPECT_FALSE(s.values.empty()) << expr;
    for (double v : s.values) EXPECT_EQ(v, s.values[0]) << expr;
    return s.values.empty() ? NAN : s.values[0];
  }
};

MathError parse_error(const std::string& expr) {
  try {
    Expression::parse(expr);
  } catch (const MathError& e) {
    return e;
  }
  ADD_FAILURE() << "no parse error for: " << expr;
  return {};
}

MathError eval_error(const World& w, const std::string& expr) {
  try {
    w.eval(expr);
  } catch (const MathError& e) {
    return e;
  }
  ADD_FAILURE() << "no evaluation error for: " << expr;
  return {};
}

using TS = std::vector<int64_t>;
using VS = std::vector<double>;

TEST(MetricMath, ArithmeticPrecedence) {
  World w;
  EXPECT_EQ(w.num("1 + 2 * 3"), 7);
  EXPECT_EQ(w.num("(1 + 2) * 3"), 9);
  EXPECT_EQ(w.num("10 - 4 - 3"), 3);
  EXPECT_EQ(w.num("8 / 4 / 2"), 1);
  EXPECT_EQ(w.num("2 ^ 3 ^ 2"), 512);  // right-associative
  EXPECT_EQ(w.num("-2 ^ 2"), -4);      // ^ binds tighter than unary minus
  EXPECT_EQ(w.num("2 ^ -1"), 0.5);
  EXPECT_EQ(w.num("2 * -3"), -6);
  EXPECT_EQ(w.num("- -3"), 3);
  EXPECT_EQ(w.num("+4"), 4);
  EXPECT_EQ(w.num("1.5e1 + .5 + 2E-1"), 15.7);
  EXPECT_EQ(w.num("\t1 +\n 1 "), 2);
}

TEST(MetricMath, ComparisonAndLogicPrecedence) {
  World w;
  EXPECT_EQ(w.num("1 + 2 > 2"), 1);
  EXPECT_EQ(w.num("3 == 3"), 1);
  EXPECT_EQ(w.num("3 != 3"), 0);
  EXPECT_EQ(w.num("2 <= 2"), 1);
  EXPECT_EQ(w.num("2 >= 3"), 0);
  EXPECT_EQ(w.num("2 < 3"), 1);
  EXPECT_EQ(w.num("1 < 2 AND 3 < 2"), 0);
  EXPECT_EQ(w.num("1 < 2 OR 3 < 2"), 1);
  EXPECT_EQ(w.num("1 || 0 && 0"), 1);  // AND binds tighter than OR
  EXPECT_EQ(w.num("(1 || 0) && 0"), 0);
  EXPECT_EQ(w.num("NOT 1"), 0);
  EXPECT_EQ(w.num("NOT 0 && 1"), 1);
  EXPECT_EQ(w.num("NOT 2 > 3"), 1);  // NOT applies to the comparison
  EXPECT_EQ(w.num("NOT(0)"), 1);
}

TEST(MetricMath, ReferencedIds) {
  auto e = Expression::parse("m1 + e2 * m1 - SUM(METRICS()) / my_metric_2");
  EXPECT_EQ(e.referenced_ids(), (std::vector<std::string>{"m1", "e2", "my_metric_2"}));
  EXPECT_TRUE(Expression::parse("TIME_SERIES(1)").referenced_ids().empty());
  EXPECT_EQ(Expression::parse("m1 + 1").text(), "m1 + 1");
}

TEST(MetricMath, SyntaxErrors) {
  auto e = parse_error("m1 +");
  EXPECT_EQ(e.code, "ValidationError");
  EXPECT_EQ(e.message, "Syntax error: unexpected end of expression.");
  EXPECT_EQ(parse_error("m1 + )").message, "Syntax error at position 6: unexpected ')'.");
  EXPECT_EQ(parse_error("m1 m2").message, "Syntax error at position 4: unexpected 'm2'.");
  EXPECT_EQ(parse_error("2m1").message, "Syntax error at position 1: unexpected '2m1'.");
  EXPECT_EQ(parse_error("(m1").message, "Syntax error: unexpected end of expression.");
  EXPECT_EQ(parse_error("m1 # 2").message, "Syntax error at position 4: unexpected '#'.");
  EXPECT_EQ(parse_error("'abc").message, "Syntax error at position 1: unterminated string.");
  EXPECT_EQ(parse_error("").message, "The expression must not be empty.");
  EXPECT_EQ(parse_error("   ").message, "The expression must not be empty.");
  EXPECT_EQ(parse_error("M1 + 1").message, "Syntax error at position 1: unexpected 'M1'.");
  EXPECT_EQ(parse_error("REPEAT + 1").message, "Syntax error at position 1: unexpected 'REPEAT'.");
  EXPECT_EQ(parse_error("SORT(METRICS(), SUM, DESC) + AVG").message,
            "Syntax error at position 30: unexpected 'AVG'.");
  EXPECT_EQ(parse_error("1e999").message, "Syntax error at position 1: number out of range.");
  EXPECT_EQ(parse_error("[m1, ]").code, "ValidationError");
  EXPECT_EQ(parse_error("SUM(m1,)").code, "ValidationError");
  EXPECT_EQ(parse_error("m1 ANDm2").code, "ValidationError");  // not the AND operator
}

TEST(MetricMath, UnknownFunctionAndArity) {
  auto e = parse_error("FOO(m1)");
  EXPECT_EQ(e.code, "ValidationError");
  EXPECT_EQ(e.message, "Unknown function: FOO.");
  EXPECT_EQ(parse_error("sum(m1)").message, "Unknown function: sum.");
  EXPECT_EQ(parse_error("SORT(METRICS())").message,
            "Invalid number of arguments for function SORT: expected 3 to 4, got 1.");
  EXPECT_EQ(parse_error("ABS(m1, m2)").message, "Invalid number of arguments for function ABS: expected 1, got 2.");
  EXPECT_EQ(parse_error("SUM()").message, "Invalid number of arguments for function SUM: expected 1, got 0.");
}

TEST(MetricMath, LimitsLengthAndDepth) {
  EXPECT_EQ(parse_error(std::string(2049, '1')).message,
            "The expression is too long: the maximum length is 2048 characters.");
  std::string ok = std::string(95, '(') + "1" + std::string(95, ')');
  EXPECT_NO_THROW(Expression::parse(ok));
  std::string deep = std::string(150, '(') + "1" + std::string(150, ')');
  EXPECT_EQ(parse_error(deep).message, "The expression is too deeply nested: the maximum depth is 100.");
  std::string negs = std::string(500, '-') + "1";
  EXPECT_EQ(parse_error(negs).code, "ValidationError");
  std::string chain = "1";
  for (int i = 0; i < 300; ++i) chain += "+1";
  EXPECT_EQ(parse_error(chain).message, "The expression is too deeply nested: the maximum depth is 100.");
  std::string nested_calls;
  for (int i = 0; i < 120; ++i) nested_calls += "ABS(";
  nested_calls += "m1" + std::string(120, ')');
  EXPECT_EQ(parse_error(nested_calls).code, "ValidationError");
}

TEST(MetricMath, UnknownIdAtEvaluation) {
  World w;
  auto e = eval_error(w, "m1 + m9");
  EXPECT_EQ(e.code, "ValidationError");
  EXPECT_EQ(e.message, "Unknown metric or expression id: m9.");
  EvalContext empty;  // no lookup at all
  EXPECT_THROW(Expression::parse("m1").evaluate(empty), MathError);
}

TEST(MetricMath, SeriesAlignmentDropsUnmatchedTimestamps) {
  World w;
  Series s = w.one("m1 + m2");
  EXPECT_EQ(s.label, "m1");  // the left operand's label
  EXPECT_EQ(s.timestamps, (TS{60, 120}));
  EXPECT_EQ(s.values, (VS{12, 23}));
  s = w.one("m2 - m1");
  EXPECT_EQ(s.label, "m2");
  EXPECT_EQ(s.values, (VS{8, 17}));
  EXPECT_TRUE(w.one("m1 * m5").values.empty());
}

TEST(MetricMath, ScalarBroadcast) {
  World w;
  Series s = w.one("m1 * 2");
  EXPECT_EQ(s.label, "m1");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120}));
  EXPECT_EQ(s.values, (VS{2, 4, 6}));
  EXPECT_EQ(w.one("10 - m1").values, (VS{9, 8, 7}));
  EXPECT_EQ(w.one("m1 ^ 2").values, (VS{1, 4, 9}));
  EXPECT_EQ(w.one("-m1").values, (VS{-1, -2, -3}));
  EXPECT_EQ(w.one("m1 > 1").values, (VS{0, 1, 1}));
  EXPECT_EQ(w.one("m1 >= 2 AND m1 < 3").values, (VS{0, 1, 0}));
  EXPECT_EQ(w.one("NOT m1 > 1").values, (VS{1, 0, 0}));
}

TEST(MetricMath, DivisionByZeroDropsThePoint) {
  World w;
  Series s = w.one("m1 / (m1 - 2)");
  EXPECT_EQ(s.timestamps, (TS{0, 120}));
  EXPECT_EQ(s.values, (VS{-1, 3}));
  EXPECT_TRUE(w.one("m1 / 0").values.empty());
  EXPECT_TRUE(w.one("1 / 0").values.empty());  // a non-finite constant draws nothing
  EXPECT_TRUE(w.one("0 / 0 * m1").values.empty());
}

TEST(MetricMath, ArraysElementWise) {
  World w;
  auto r = w.eval("[m1, m2] * 2");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].label, "m1");
  EXPECT_EQ(r[0].values, (VS{2, 4, 6}));
  EXPECT_EQ(r[1].label, "m2");
  EXPECT_EQ(r[1].values, (VS{20, 40, 60}));

  r = w.eval("[m1, m2] + m1");  // the series against each member
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].values, (VS{2, 4, 6}));
  EXPECT_EQ(r[1].timestamps, (TS{60, 120}));
  EXPECT_EQ(r[1].values, (VS{12, 23}));

  r = w.eval("[m1, m2] - [m1, m1]");  // member by member
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].values, (VS{0, 0, 0}));
  EXPECT_EQ(r[1].values, (VS{8, 17}));

  r = w.eval("[[m1, m2], m3]");  // nested arrays flatten
  EXPECT_EQ(r.size(), 3u);
  EXPECT_TRUE(w.eval("[]").empty());

  auto e = eval_error(w, "[m1, m2] + [m1, m2, m3]");
  EXPECT_EQ(e.code, "ValidationError");
  EXPECT_EQ(e.message, "Mismatched array sizes: the arrays have 2 and 3 time series.");
  EXPECT_EQ(eval_error(w, "[m1, 1]").message, "An array may contain only time series.");
}

TEST(MetricMath, IdWithSeveralSeriesIsAnArray) {
  World w;
  w.add("e1", {S("a", {0}, {1}), S("b", {0}, {2})});
  auto r = w.eval("e1 * 10");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].values, (VS{10}));
  EXPECT_EQ(r[1].values, (VS{20}));
  EXPECT_EQ(w.one("SUM(e1)").values, (VS{3}));
}

TEST(MetricMath, AggregateOfOneSeriesIsAScalar) {
  World w;
  Series s = w.one("SUM(m1)");  // drawn at m1's timestamps
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120}));
  EXPECT_EQ(s.values, (VS{6, 6, 6}));
  EXPECT_EQ(s.label, "SUM(m1)");
  EXPECT_EQ(w.num("AVG(m1)"), 2);
  EXPECT_EQ(w.num("MIN(m2)"), 10);
  EXPECT_EQ(w.num("MAX(m2)"), 30);
  EXPECT_DOUBLE_EQ(w.num("STDDEV(m1)"), std::sqrt(2.0 / 3.0));
  EXPECT_EQ(w.num("DATAPOINT_COUNT(m2)"), 3);
  // A scalar broadcasts over another series' timestamps.
  EXPECT_EQ(w.one("m1 - AVG(m1)").values, (VS{-1, 0, 1}));
  s = w.one("m2 / MAX(m1)");
  EXPECT_EQ(s.timestamps, (TS{60, 120, 180}));
  EXPECT_EQ(s.values, (VS{10.0 / 3, 20.0 / 3, 10}));
  EXPECT_EQ(w.num("SUM(5)"), 5);
  EXPECT_TRUE(w.one("AVG(m5)").values.empty());  // no data, no value
}

TEST(MetricMath, AggregateAcrossArrayPerTimestamp) {
  World w;
  Series s = w.one("SUM([m1, m2])");
  EXPECT_EQ(s.label, "SUM([m1, m2])");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120, 180}));
  EXPECT_EQ(s.values, (VS{1, 12, 23, 30}));
  EXPECT_EQ(w.one("AVG([m1, m2])").values, (VS{1, 6, 11.5, 30}));
  EXPECT_EQ(w.one("MIN([m1, m2])").values, (VS{1, 2, 3, 30}));
  EXPECT_EQ(w.one("MAX([m1, m2])").values, (VS{1, 10, 20, 30}));
  EXPECT_EQ(w.one("STDDEV([m1, m2])").values, (VS{0, 4, 8.5, 0}));
  EXPECT_EQ(w.one("DATAPOINT_COUNT([m1, m2])").values, (VS{1, 2, 2, 1}));
  s = w.one("SUM(METRICS())");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120, 180}));
  EXPECT_EQ(s.values, (VS{1, 82, 23, 300}));
}

TEST(MetricMath, RateDiffDiffTimeRunningSum) {
  World w;
  Series s = w.one("RATE(m3)");  // (v - prev) / seconds
  EXPECT_EQ(s.label, "m3");
  EXPECT_EQ(s.timestamps, (TS{60, 180}));
  EXPECT_EQ(s.values, (VS{1, 1.5}));
  s = w.one("DIFF(m3)");
  EXPECT_EQ(s.timestamps, (TS{60, 180}));
  EXPECT_EQ(s.values, (VS{60, 180}));
  EXPECT_EQ(w.one("DIFF_TIME(m3)").values, (VS{60, 120}));
  s = w.one("RUNNING_SUM(m1)");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120}));
  EXPECT_EQ(s.values, (VS{1, 3, 6}));
  auto r = w.eval("DIFF([m1, m2])");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].values, (VS{10, 10}));
  EXPECT_EQ(eval_error(w, "RATE(5)").message,
            "RATE expects a time series or an array of time series as argument 1.");
}

TEST(MetricMath, FillModes) {
  World w;  // window [0, 300) at 60 -> slots 0, 60, 120, 180, 240; m4 has 60 and 180
  Series s = w.one("FILL(m4, 0)");
  EXPECT_EQ(s.label, "m4");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120, 180, 240}));
  EXPECT_EQ(s.values, (VS{0, 10, 0, 30, 0}));
  EXPECT_EQ(w.one("FILL(m4, REPEAT)").values, (VS{10, 10, 10, 30, 30}));
  EXPECT_EQ(w.one("FILL(m4, LINEAR)").values, (VS{10, 10, 20, 30, 30}));
  s = w.one("FILL(m4, m1)");  // the value of another series where it has one
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120, 180}));
  EXPECT_EQ(s.values, (VS{1, 10, 3, 30}));
  EXPECT_EQ(w.one("FILL(m4, -1 * 2)").values, (VS{-2, 10, -2, 30, -2}));
  EXPECT_EQ(w.one("FILL(m5, 7)").values, (VS{7, 7, 7, 7, 7}));
  EXPECT_TRUE(w.one("FILL(m5, REPEAT)").values.empty());
  auto r = w.eval("FILL(METRICS(), 0)");
  ASSERT_EQ(r.size(), 5u);
  for (const auto& x : r) EXPECT_EQ(x.values.size(), 5u);
  EXPECT_EQ(eval_error(w, "FILL(m4, 'x')").message,
            "FILL expects a number, a time series, REPEAT or LINEAR as argument 2.");
  EXPECT_EQ(eval_error(w, "FILL(m4, [m1, m2])").message, "FILL expects a single time series as argument 2.");
}

TEST(MetricMath, FillKeepsThePhaseOfTheSeries) {
  World w;
  w.add("p1", {S("p1", {30, 150}, {1, 3})});
  Series s = w.one("FILL(p1, LINEAR)");
  EXPECT_EQ(s.timestamps, (TS{30, 90, 150, 210, 270}));
  EXPECT_EQ(s.values, (VS{1, 2, 3, 3, 3}));
}

TEST(MetricMath, If) {
  World w;
  Series s = w.one("IF(m1 > 1, m1, 0)");
  EXPECT_EQ(s.label, "m1");
  EXPECT_EQ(s.values, (VS{0, 2, 3}));
  s = w.one("IF(m1 > 1, m1)");  // no false branch: no point
  EXPECT_EQ(s.timestamps, (TS{60, 120}));
  EXPECT_EQ(s.values, (VS{2, 3}));
  s = w.one("IF(m1 >= 2, 100, m2)");  // m2 has no point at 0
  EXPECT_EQ(s.timestamps, (TS{60, 120}));
  EXPECT_EQ(s.values, (VS{100, 100}));
  EXPECT_EQ(w.one("IF(1, m1, m2)").label, "m1");
  EXPECT_EQ(w.one("IF(0, m1, m2)").label, "m2");
  EXPECT_EQ(w.num("IF(2 > 1, 5, 6)"), 5);
  EXPECT_TRUE(w.one("IF(0, m1)").values.empty());
  auto r = w.eval("IF([m1, m2] > 15, 1, 0)");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].values, (VS{0, 0, 0}));
  EXPECT_EQ(r[1].values, (VS{0, 1, 1}));
  EXPECT_EQ(eval_error(w, "IF([m1, m2] > 0, [m1, m2, m3])").message,
            "Mismatched array sizes: the arrays have 2 and 3 time series.");
}

TEST(MetricMath, SortAndSlice) {
  World w;  // sums: m1 6, m2 60, m3 300, m4 40, m5 empty
  auto labels = [&](const std::string& expr) {
    std::vector<std::string> out;
    for (const auto& s : w.eval(expr)) out.push_back(s.label);
    return out;
  };
  using L = std::vector<std::string>;
  EXPECT_EQ(labels("SORT(METRICS(), SUM, DESC)"), (L{"m3", "m2", "m4", "m1", "m5"}));
  EXPECT_EQ(labels("SORT(METRICS(), SUM, ASC)"), (L{"m1", "m4", "m2", "m3", "m5"}));  // empty last
  EXPECT_EQ(labels("SORT(METRICS(), MAX, ASC, 2)"), (L{"m1", "m2"}));
  EXPECT_EQ(labels("SORT(METRICS(), MIN, DESC, 2)"), (L{"m2", "m4"}));  // ties keep request order
  EXPECT_EQ(labels("SORT(METRICS(), AVG, DESC, 100)").size(), 5u);
  EXPECT_EQ(labels("SLICE(METRICS(), 1, 3)"), (L{"m2", "m3"}));
  EXPECT_EQ(labels("SLICE(METRICS(), 3, 99)"), (L{"m4", "m5"}));
  EXPECT_TRUE(labels("SLICE(METRICS(), 3, 1)").empty());
  EXPECT_EQ(labels("FIRST(SORT(METRICS(), AVG, DESC))"), (L{"m3"}));
  EXPECT_EQ(labels("LAST(METRICS())"), (L{"m5"}));
  EXPECT_EQ(labels("FIRST(m2)"), (L{"m2"}));
  EXPECT_EQ(labels("REMOVE_EMPTY(METRICS())"), (L{"m1", "m2", "m3", "m4"}));
  EXPECT_EQ(w.num("METRIC_COUNT(METRICS())"), 5);
  EXPECT_EQ(eval_error(w, "SORT(METRICS(), DESC, SUM)").message, "SORT expects SUM, AVG, MIN or MAX as argument 2.");
  EXPECT_EQ(eval_error(w, "SORT(METRICS(), SUM, SUM)").message, "SORT expects ASC or DESC as argument 3.");
  EXPECT_EQ(eval_error(w, "SLICE(METRICS(), m1, 2)").message, "SLICE expects a number as argument 2.");
}

TEST(MetricMath, MetricsWithPrefix) {
  World w;
  w.add("errors_a", {S("ea", {0}, {1})});
  w.add("errors_b", {S("eb", {0}, {2})});
  auto r = w.eval("METRICS('errors')");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].label, "ea");
  EXPECT_EQ(r[1].label, "eb");
  EXPECT_TRUE(w.eval("METRICS('zzz')").empty());
  EXPECT_EQ(w.one("SUM(METRICS('errors'))").values, (VS{3}));
  EXPECT_EQ(eval_error(w, "METRICS(1)").message, "METRICS expects a string as argument 1.");
}

TEST(MetricMath, ElementWiseFunctions) {
  World w;
  w.add("n1", {S("n1", {0, 60, 120}, {-1.5, 0, 100})});
  EXPECT_EQ(w.one("ABS(n1)").values, (VS{1.5, 0, 100}));
  EXPECT_EQ(w.one("CEIL(n1)").values, (VS{-1, 0, 100}));
  EXPECT_EQ(w.one("FLOOR(n1)").values, (VS{-2, 0, 100}));
  Series s = w.one("LOG10(n1)");  // LOG10 of -1.5 and 0 are not finite: dropped
  EXPECT_EQ(s.label, "n1");
  EXPECT_EQ(s.timestamps, (TS{120}));
  EXPECT_EQ(s.values, (VS{2}));
  s = w.one("LOG(n1)");
  EXPECT_EQ(s.timestamps, (TS{120}));
  EXPECT_DOUBLE_EQ(s.values[0], std::log(100.0));
  s = w.one("SQRT(n1)");
  EXPECT_EQ(s.timestamps, (TS{60, 120}));
  EXPECT_EQ(s.values, (VS{0, 10}));
  EXPECT_EQ(w.one("PERIOD(m1)").values, (VS{60, 60, 60}));
  EXPECT_EQ(w.one("m1 / PERIOD(m1)").values, (VS{1.0 / 60, 2.0 / 60, 3.0 / 60}));
  EXPECT_EQ(w.num("ABS(-3)"), 3);
}

TEST(MetricMath, TimeFunctions) {
  World w;
  w.add("t1", {S("t1", {1700000000}, {5})});  // 2023-11-14 22:13:20 UTC, a Tuesday
  EXPECT_EQ(w.one("MINUTE(t1)").values, (VS{13}));
  EXPECT_EQ(w.one("HOUR(t1)").values, (VS{22}));
  EXPECT_EQ(w.one("DAY(t1)").values, (VS{2}));
  EXPECT_EQ(w.one("DATE(t1)").values, (VS{14}));
  EXPECT_EQ(w.one("MONTH(t1)").values, (VS{11}));
  EXPECT_EQ(w.one("YEAR(t1)").values, (VS{2023}));
  EXPECT_EQ(w.one("EPOCH(t1)").values, (VS{1700000000}));
  w.add("t2", {S("t2", {0, 4 * 86400}, {1, 1})});  // Thursday, then Monday
  EXPECT_EQ(w.one("DAY(t2)").values, (VS{4, 1}));
}

TEST(MetricMath, TimeSeriesAndConstants) {
  World w;
  Series s = w.one("TIME_SERIES(5)");
  EXPECT_EQ(s.timestamps, (TS{0, 60, 120, 180, 240}));
  EXPECT_EQ(s.values, (VS{5, 5, 5, 5, 5}));
  EXPECT_EQ(w.one("TIME_SERIES(MAX(m2))").values, (VS{30, 30, 30, 30, 30}));
  s = w.one("42");  // a bare constant draws over the window
  EXPECT_EQ(s.label, "42");
  EXPECT_EQ(s.timestamps.size(), 5u);
  EXPECT_EQ(eval_error(w, "TIME_SERIES(m1)").message, "TIME_SERIES expects a number as argument 1.");
  World big;
  big.ctx.end_s = int64_t{1} << 40;
  big.ctx.period_s = 1;
  EXPECT_EQ(eval_error(big, "TIME_SERIES(1)").code, "ValidationError");
}

TEST(MetricMath, Search) {
  World w;
  EXPECT_EQ(eval_error(w, "SEARCH('{AWS/EC2,InstanceId} CPUUtilization', 'Average', 300)").message,
            "SEARCH is not supported here.");
  w.ctx.search = [&w](const std::string& q, const std::string& stat, int64_t period) {
    w.last_search = q;
    w.last_stat = stat;
    w.last_period = period;
    return std::vector<Series>{S("i-1", {0}, {1}), S("i-2", {0}, {3})};
  };
  auto r = w.eval("SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPU\\'s\"', 'Average', 300)");
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(w.last_search, "{AWS/EC2,InstanceId} MetricName=\"CPU's\"");
  EXPECT_EQ(w.last_stat, "Average");
  EXPECT_EQ(w.last_period, 300);
  EXPECT_EQ(w.one("AVG(SEARCH('x', 'Sum', 60))").values, (VS{2}));
  EXPECT_EQ(eval_error(w, "SEARCH(m1, 'Sum', 60)").message, "SEARCH expects a string as argument 1.");
}

TEST(MetricMath, AnomalyDetectionBand) {
  World w;
  EXPECT_EQ(eval_error(w, "ANOMALY_DETECTION_BAND(m1)").message,
            "ANOMALY_DETECTION_BAND is not supported here.");
  double seen_k = 0;
  w.ctx.anomaly_band = [&seen_k](const Series& m, double k) {
    seen_k = k;
    Series lo = m, hi = m;
    lo.label.clear();
    hi.label.clear();
    for (auto& v : lo.values) v -= k;
    for (auto& v : hi.values) v += k;
    return std::make_pair(lo, hi);
  };
  auto r = w.eval("ANOMALY_DETECTION_BAND(m1, 3)");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(seen_k, 3);
  EXPECT_EQ(r[0].label, "m1 Lower");
  EXPECT_EQ(r[0].values, (VS{-2, -1, 0}));
  EXPECT_EQ(r[1].label, "m1 Upper");
  EXPECT_EQ(r[1].values, (VS{4, 5, 6}));
  w.eval("ANOMALY_DETECTION_BAND(m1)");
  EXPECT_EQ(seen_k, 2);
}

TEST(MetricMath, StringsAreNotNumbers) {
  World w;
  EXPECT_EQ(eval_error(w, "m1 + 'abc'").message, "+ expects a number or time series, not 'abc'.");
  EXPECT_EQ(eval_error(w, "'abc'").message, "The expression must return a time series or a number, not a string.");
  EXPECT_EQ(eval_error(w, "ABS('a')").message, "ABS expects a number or time series, not 'a'.");
}

TEST(MetricMath, ExpressionResultsChain) {
  World w;
  w.add("e1", w.eval("m1 * 10"));
  Series s = w.one("e1 + m2");
  EXPECT_EQ(s.timestamps, (TS{60, 120}));
  EXPECT_EQ(s.values, (VS{30, 50}));
}

}  // namespace
