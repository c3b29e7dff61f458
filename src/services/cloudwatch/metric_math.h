// CloudWatch metric math: the `Expression` of a GetMetricData query (also alarms' metrics).
//
// Self-contained (standard library only): the service feeds it the other queries' results
// through EvalContext callbacks, so it knows nothing about the store.
//
// An expression is parsed once into a flat node vector (children by index) and evaluated
// bottom-up. Values are a scalar, a single series, or an array of series; series arithmetic
// aligns on timestamps by a linear merge (both sides are sorted), so every operator or
// element-wise function costs O(points) and an aggregate across an array O(points log points).
// Non-finite results (x/0, LOG(-1), ...) are dropped from a series rather than returned, as
// CloudWatch does.
//
// Errors are MathError{"ValidationError", detail}; the message is the detail only, the
// service prefixes the query id (AWS words it "Error in expression <id>: <detail>").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::cloudwatch::math {

struct Series {  // one time series; timestamps epoch seconds, ascending, aligned to period
  std::string label;
  std::vector<int64_t> timestamps;
  std::vector<double> values;
};

struct MathError {  // what AWS reports: code (e.g. "ValidationError") and message
  std::string code, message;
};

struct EvalContext {
  int64_t start_s = 0, end_s = 0, period_s = 60;  // query window [start,end), its period
  // Results of other queries by Id (MetricStat ones and already-evaluated expressions);
  // nullptr if unknown.
  std::function<const std::vector<Series>*(std::string_view id)> lookup;
  // All queries' results in request order (for METRICS() and METRICS('prefix')).
  std::function<std::vector<std::pair<std::string, const std::vector<Series>*>>()> all_metrics;
  // SEARCH('{Namespace,DimName} MetricName', 'Average', 300). Unset -> MathError.
  std::function<std::vector<Series>(const std::string& search, const std::string& statistic,
                                    int64_t period_s)>
      search;
  // ANOMALY_DETECTION_BAND(m, k): (lower, upper) for a series. Unset -> MathError.
  std::function<std::pair<Series, Series>(const Series& metric, double k)> anomaly_band;
};

// Limits that keep a hostile expression cheap: AWS caps Expression at 2048 characters and a
// request at 500 metrics and 100,800 datapoints.
inline constexpr size_t kMaxExpressionLength = 2048;
inline constexpr int kMaxDepth = 100;          // nesting of parentheses/calls and tree height
inline constexpr size_t kMaxSeries = 500;      // series in one array value
inline constexpr size_t kMaxPoints = 100800;   // points a generated series (FILL, ...) may have

class Expression {
 public:
  // Throws MathError (code "ValidationError") for a syntax error / unknown function / wrong
  // arity / misplaced keyword / too long or too deep an expression.
  static Expression parse(std::string_view text);
  // Ids referenced as bare identifiers (e.g. "m1", "e2"), distinct, in order of appearance.
  std::vector<std::string> referenced_ids() const;
  // Throws MathError on a runtime error (unknown id, mismatched array sizes, wrong argument
  // type, unset callback). A scalar result becomes one series: at the timestamps of the
  // series it was computed from (AVG(m1)), else one point every period of the window.
  std::vector<Series> evaluate(const EvalContext& ctx) const;
  const std::string& text() const { return text_; }

  enum class Kind : uint8_t { Number, String, Id, Keyword, Array, Call, Unary, Binary };
  struct Node {
    Kind kind = Kind::Number;
    uint8_t op = 0;        // operator (Unary/Binary) or function (Call), see metric_math.cpp
    double number = 0;     // Number
    std::string text;      // Id name, String value, Keyword/function name
    std::vector<int32_t> args;  // children, indices into nodes_
    uint32_t begin = 0, end = 0;  // source span, for labels
  };

 private:
  friend class Parser;
  friend class Evaluator;
  std::string text_;
  std::vector<Node> nodes_;
  int32_t root_ = -1;
};

}  // namespace vigil::cloudwatch::math
