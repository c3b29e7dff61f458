// libFuzzer target for cloudwatch/metric_math: parses the input as a metric math expression
// and, when it parses, evaluates it against a small fixed context (a few series over a
// 10-period window, METRICS(), SEARCH and ANOMALY_DETECTION_BAND callbacks), checking the
// result's shape. Work per input is bounded: parse() caps the text at 2048 characters and
// the nesting at 100, and the window has 10 periods, so every value holds at most
// kMaxSeries series of a few dozen points.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/cloudwatch/metric_math.h"

using namespace vigil::cloudwatch::math;

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

Series make(std::string label, std::vector<int64_t> ts, std::vector<double> vs) {
  return Series{std::move(label), std::move(ts), std::move(vs)};
}

struct Fixture {
  std::map<std::string, std::vector<Series>, std::less<>> data;
  std::vector<std::string> order;
  EvalContext ctx;

  Fixture() {
    add("m1", {make("m1", {0, 60, 120, 180, 240}, {1, 2, 0, -4, 5.5})});
    add("m2", {make("m2", {60, 180, 300, 420}, {10, 0, 30, 1e300})});
    add("m3", {make("m3", {30, 90, 150}, {-1, 0, 1})});  // off the query's phase
    add("m4", {make("m4", {}, {})});
    add("e1", {make("a", {0, 540}, {1, 2}), make("b", {0}, {3})});
    ctx.start_s = 0;
    ctx.end_s = 600;
    ctx.period_s = 60;
    ctx.lookup = [this](std::string_view id) -> const std::vector<Series>* {
      auto it = data.find(id);
      return it == data.end() ? nullptr : &it->second;
    };
    ctx.all_metrics = [this]() {
      std::vector<std::pair<std::string, const std::vector<Series>*>> out;
      for (const auto& id : order) out.emplace_back(id, &data.at(id));
      return out;
    };
    ctx.search = [](const std::string&, const std::string&, int64_t) {
      return std::vector<Series>{make("s1", {0, 60}, {1, 2}), make("s2", {60}, {3}), make("s3", {}, {})};
    };
    ctx.anomaly_band = [](const Series& m, double k) {
      Series lo = m, hi = m;
      for (auto& v : lo.values) v -= k;
      for (auto& v : hi.values) v += k;
      return std::make_pair(lo, hi);
    };
  }
  void add(const std::string& id, std::vector<Series> s) {
    data[id] = std::move(s);
    order.push_back(id);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  static const Fixture fixture;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  Expression expr;
  try {
    expr = Expression::parse(text);
  } catch (const MathError& e) {
    check(e.code == "ValidationError" && !e.message.empty());
    return 0;
  }
  check(text.size() <= kMaxExpressionLength);
  check(expr.text() == text);
  for (const auto& id : expr.referenced_ids()) check(!id.empty() && id[0] >= 'a' && id[0] <= 'z');

  try {
    std::vector<Series> result = expr.evaluate(fixture.ctx);
    check(result.size() <= kMaxSeries);
    for (const auto& s : result) {
      check(s.timestamps.size() == s.values.size());
      for (size_t i = 0; i < s.values.size(); ++i) {
        check(std::isfinite(s.values[i]));  // non-finite points are dropped, never returned
        check(i == 0 || s.timestamps[i - 1] <= s.timestamps[i]);
      }
    }
  } catch (const MathError& e) {
    check(!e.code.empty() && !e.message.empty());
  }
  return 0;
}
