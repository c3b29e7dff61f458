#include "services/cloudwatch/alarm_evaluation.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <ctime>

using namespace vigil::cloudwatch;

namespace {
int64_t utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi;
  return timegm(&tm);
}
const int64_t kEnd = utc(2023, 11, 26, 10, 3);  // window end: periods 10:02, 10:01, 10:00 ...

AlarmSpec spec(Comparison c, double thr, int n, int m, std::string tmd = "missing") {
  AlarmSpec s;
  s.comparison = c; s.threshold = thr; s.evaluation_periods = n; s.datapoints_to_alarm = m;
  s.period_s = 60; s.treat_missing_data = std::move(tmd); s.statistic = "Average";
  return s;
}

// Pattern as in the user guide's tables, oldest first: '0' non-breaching, 'X' breaching, '-' missing.
std::vector<EvaluatedPoint> pattern(const std::string& p) {
  std::vector<EvaluatedPoint> pts;
  int n = static_cast<int>(p.size());
  for (int i = 0; i < n; ++i) {
    if (p[i] == '-') continue;
    int64_t ts = kEnd - static_cast<int64_t>(n - i) * 60;
    pts.push_back({ts, p[i] == 'X' ? 10.0 : 1.0, 1});
  }
  return pts;
}

std::string state(const AlarmSpec& s, const std::string& p, const std::string& cur = "OK") {
  return evaluate_alarm(s, pattern(p), kEnd, cur, kEnd * 1000).state;
}
}  // namespace

TEST(AlarmEvaluation, ParseComparison) {
  for (auto name : {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                    "LessThanOrEqualToThreshold", "LessThanLowerOrGreaterThanUpperThreshold",
                    "LessThanLowerThreshold", "GreaterThanUpperThreshold"}) {
    auto c = parse_comparison(name);
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(comparison_name(*c), name);
  }
  EXPECT_FALSE(parse_comparison("GreaterThan"));
}

TEST(AlarmEvaluation, EveryOperator) {
  auto one = [](Comparison c, double v) {
    return evaluate_alarm(spec(c, 5, 1, 1), {{kEnd - 60, v, 1}}, kEnd, "OK", 0).state;
  };
  EXPECT_EQ(one(Comparison::GreaterThanOrEqualToThreshold, 5), "ALARM");
  EXPECT_EQ(one(Comparison::GreaterThanOrEqualToThreshold, 4.9), "OK");
  EXPECT_EQ(one(Comparison::GreaterThanThreshold, 5), "OK");
  EXPECT_EQ(one(Comparison::GreaterThanThreshold, 5.1), "ALARM");
  EXPECT_EQ(one(Comparison::LessThanThreshold, 5), "OK");
  EXPECT_EQ(one(Comparison::LessThanThreshold, 4.9), "ALARM");
  EXPECT_EQ(one(Comparison::LessThanOrEqualToThreshold, 5), "ALARM");
  EXPECT_EQ(one(Comparison::LessThanOrEqualToThreshold, 5.1), "OK");
  auto band = [](Comparison c, double v) {
    EvaluatedPoint p{kEnd - 60, v, 1, 2.0, 8.0};
    return evaluate_alarm(spec(c, 0, 1, 1), {p}, kEnd, "OK", 0).state;
  };
  EXPECT_EQ(band(Comparison::LessThanLowerOrGreaterThanUpperThreshold, 1), "ALARM");
  EXPECT_EQ(band(Comparison::LessThanLowerOrGreaterThanUpperThreshold, 9), "ALARM");
  EXPECT_EQ(band(Comparison::LessThanLowerOrGreaterThanUpperThreshold, 5), "OK");
  EXPECT_EQ(band(Comparison::LessThanLowerThreshold, 1), "ALARM");
  EXPECT_EQ(band(Comparison::LessThanLowerThreshold, 9), "OK");
  EXPECT_EQ(band(Comparison::GreaterThanUpperThreshold, 9), "ALARM");
  EXPECT_EQ(band(Comparison::GreaterThanUpperThreshold, 1), "OK");
}

TEST(AlarmEvaluation, MOutOfN) {
  auto s = spec(Comparison::GreaterThanThreshold, 5, 3, 2);
  EXPECT_EQ(state(s, "X0X"), "ALARM");
  EXPECT_EQ(state(s, "00X"), "OK");
  EXPECT_EQ(state(s, "XX0"), "ALARM");
  // Only the most recent N real points count.
  EXPECT_EQ(state(s, "XX000"), "OK");
}

// User guide table 1: Datapoints to Alarm = Evaluation Periods = 3, 5 points retrieved.
TEST(AlarmEvaluation, DocumentedTableThreeOfThree) {
  struct Row { const char* p; const char* missing; const char* ignore; const char* breaching; const char* notb; };
  const Row rows[] = {
      {"0-X-X", "OK", "OK", "OK", "OK"},
      {"0----", "OK", "OK", "OK", "OK"},
      {"-----", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"},
      {"0XX-X", "ALARM", "ALARM", "ALARM", "ALARM"},
      {"----X", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"},
      {"X----", "ALARM", "retain", "ALARM", "OK"},
  };
  for (const auto& r : rows) {
    auto s = spec(Comparison::GreaterThanThreshold, 5, 3, 3);
    const char* expect[] = {r.missing, r.ignore, r.breaching, r.notb};
    const char* modes[] = {"missing", "ignore", "breaching", "notBreaching"};
    for (int i = 0; i < 4; ++i) {
      s.treat_missing_data = modes[i];
      std::string e = expect[i];
      if (e == "retain") {
        EXPECT_EQ(state(s, r.p, "OK"), "OK") << r.p << " " << modes[i];
        EXPECT_EQ(state(s, r.p, "ALARM"), "ALARM") << r.p << " " << modes[i];
        auto ev = evaluate_alarm(s, pattern(r.p), kEnd, "ALARM", 0);
        EXPECT_FALSE(ev.changed);
        EXPECT_TRUE(ev.reason.empty());
      } else {
        EXPECT_EQ(state(s, r.p, "INSUFFICIENT_DATA"), e) << r.p << " " << modes[i];
      }
    }
  }
}

// User guide table 2: 2 out of 3.
TEST(AlarmEvaluation, DocumentedTableTwoOfThree) {
  struct Row { const char* p; const char* missing; const char* ignore; const char* breaching; const char* notb; };
  const Row rows[] = {
      {"0-X-X", "ALARM", "ALARM", "ALARM", "ALARM"},
      {"00X0X", "ALARM", "ALARM", "ALARM", "ALARM"},
      {"0-X--", "OK", "OK", "ALARM", "OK"},
      {"----0", "OK", "OK", "ALARM", "OK"},
      {"----X", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"},
  };
  for (const auto& r : rows) {
    auto s = spec(Comparison::GreaterThanThreshold, 5, 3, 2);
    const char* expect[] = {r.missing, r.ignore, r.breaching, r.notb};
    const char* modes[] = {"missing", "ignore", "breaching", "notBreaching"};
    for (int i = 0; i < 4; ++i) {
      s.treat_missing_data = modes[i];
      std::string e = expect[i];
      if (e == "retain") {
        EXPECT_EQ(state(s, r.p, "ALARM"), "ALARM") << r.p << " " << modes[i];
        EXPECT_EQ(state(s, r.p, "OK"), "OK") << r.p << " " << modes[i];
      } else {
        EXPECT_EQ(state(s, r.p, "INSUFFICIENT_DATA"), e) << r.p << " " << modes[i];
      }
    }
  }
}

TEST(AlarmEvaluation, ReasonTexts) {
  auto s = spec(Comparison::GreaterThanThreshold, 3, 3, 2);
  std::vector<EvaluatedPoint> pts{{kEnd - 60, 5, 1}, {kEnd - 120, 4, 1}, {kEnd - 180, 1, 1}};
  auto ev = evaluate_alarm(s, pts, kEnd, "OK", 0);
  EXPECT_EQ(ev.state, "ALARM");
  EXPECT_TRUE(ev.changed);
  EXPECT_EQ(ev.reason,
            "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (26/11/23 10:02:00), 4.0 (26/11/23 10:01:00)] were "
            "greater than the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition).");
  // OK: the non-breaching points, minimum N - M + 1.
  auto ok = evaluate_alarm(spec(Comparison::GreaterThanOrEqualToThreshold, 1, 2, 1), {{kEnd - 60, 0, 1}, {kEnd - 120, 0.5, 1}},
                           kEnd, "ALARM", 0);
  EXPECT_EQ(ok.reason,
            "Threshold Crossed: 2 out of the last 2 datapoints [0.0 (26/11/23 10:02:00), 0.5 (26/11/23 10:01:00)] were not "
            "greater than or equal to the threshold (1.0) (minimum 2 datapoints for ALARM -> OK transition).");
  auto single = spec(Comparison::LessThanOrEqualToThreshold, 20, 1, 1);
  EXPECT_EQ(evaluate_alarm(single, {{kEnd - 60, 3.4666088898518357, 5}}, kEnd, "OK", 0).reason,
            "Threshold Crossed: 1 out of the last 1 datapoints [3.4666088898518357 (26/11/23 10:02:00)] was less than or "
            "equal to the threshold (20.0) (minimum 1 datapoint for OK -> ALARM transition).");
  single.datapoints_to_alarm_set = false;
  single.comparison = Comparison::GreaterThanThreshold;
  single.threshold = 0;
  EXPECT_EQ(evaluate_alarm(single, {{kEnd - 60, 1, 1}}, kEnd, "OK", 0).reason,
            "Threshold Crossed: 1 datapoint [1.0 (26/11/23 10:02:00)] was greater than the threshold (0.0).");
  auto miss = spec(Comparison::GreaterThanThreshold, 0, 3, 1, "missing");
  EXPECT_EQ(evaluate_alarm(miss, {}, kEnd, "OK", 0).reason, "Insufficient Data: 3 datapoints were unknown.");
  miss.evaluation_periods = 1;
  EXPECT_EQ(evaluate_alarm(miss, {}, kEnd, "OK", 0).reason, "Insufficient Data: 1 datapoint was unknown.");
  auto nb = spec(Comparison::GreaterThanThreshold, 0, 1, 1, "notBreaching");
  EXPECT_EQ(evaluate_alarm(nb, {}, kEnd, "ALARM", 0).reason,
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].");
  auto br = spec(Comparison::GreaterThanThreshold, 5, 3, 2, "breaching");
  EXPECT_EQ(evaluate_alarm(br, {}, kEnd, "OK", 0).reason,
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching].");
  EXPECT_EQ(evaluate_alarm(br, {{kEnd - 60, 1, 1}}, kEnd, "OK", 0).reason,
            "Threshold Crossed: 1 datapoint was received for 3 periods and 2 missing datapoints were treated as [Breaching].");
}

TEST(AlarmEvaluation, BandReason) {
  auto s = spec(Comparison::LessThanLowerOrGreaterThanUpperThreshold, 0, 2, 2);
  std::vector<EvaluatedPoint> pts{{kEnd - 60, 28.5, 1, 31.5, 33.0}, {kEnd - 120, 27.0, 1, 31.25, 32.5}};
  auto ev = evaluate_alarm(s, pts, kEnd, "OK", 0);
  EXPECT_EQ(ev.reason,
            "Thresholds Crossed: 2 out of the last 2 datapoints [28.5 (26/11/23 10:02:00), 27.0 (26/11/23 10:01:00)] were "
            "less than the lower thresholds [31.5, 31.25] or greater than the upper thresholds [33.0, 32.5] (minimum 2 "
            "datapoints for OK -> ALARM transition).");
}

TEST(AlarmEvaluation, ReasonDataJson) {
  auto s = spec(Comparison::GreaterThanThreshold, 3, 3, 2);
  s.unit = "Count";
  std::vector<EvaluatedPoint> pts{{kEnd - 60, 5, 2}, {kEnd - 120, 4, 3}, {kEnd - 180, 1, 4}};
  auto ev = evaluate_alarm(s, pts, kEnd, "OK", kEnd * 1000 + 31);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(ev.reason_data_json).get(doc)) << ev.reason_data_json;
  EXPECT_EQ(std::string_view(doc["version"]), "1.0");
  EXPECT_EQ(std::string_view(doc["queryDate"]), "2023-11-26T10:03:00.031+0000");
  EXPECT_EQ(std::string_view(doc["startDate"]), "2023-11-26T10:00:00.000+0000");
  EXPECT_EQ(std::string_view(doc["unit"]), "Count");
  EXPECT_EQ(std::string_view(doc["statistic"]), "Average");
  EXPECT_EQ(int64_t(doc["period"]), 60);
  EXPECT_EQ(double(doc["threshold"]), 3.0);
  auto recent = doc["recentDatapoints"].get_array().value();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(double(recent.at(0)), 1.0);  // oldest first
  auto evald = doc["evaluatedDatapoints"].get_array().value();
  ASSERT_EQ(evald.size(), 2u);
  EXPECT_EQ(std::string_view(evald.at(0)["timestamp"]), "2023-11-26T10:02:00.000+0000");
  EXPECT_EQ(double(evald.at(0)["sampleCount"]), 2.0);
  EXPECT_EQ(double(evald.at(0)["value"]), 5.0);

  auto ins = evaluate_alarm(spec(Comparison::GreaterThanThreshold, 3, 5, 5), {}, kEnd, "OK", 0);
  ASSERT_FALSE(parser.parse(ins.reason_data_json).get(doc)) << ins.reason_data_json;
  EXPECT_EQ(doc["recentDatapoints"].get_array().value().size(), 0u);
  EXPECT_TRUE(doc["startDate"].error());
  auto ts = doc["evaluatedDatapoints"].get_array().value();
  ASSERT_EQ(ts.size(), 5u);
  EXPECT_EQ(std::string_view(ts.at(4)["timestamp"]), "2023-11-26T09:58:00.000+0000");
}

TEST(AlarmEvaluation, LowSampleCountPercentile) {
  auto s = spec(Comparison::GreaterThanThreshold, 5, 1, 1);
  s.is_percentile = true;
  s.statistic = "p99";
  s.evaluate_low_sample_count_percentile = "ignore";
  EXPECT_EQ(evaluate_alarm(s, {{kEnd - 60, 10, 50}}, kEnd, "OK", 0).state, "OK");       // < 1000 samples
  EXPECT_EQ(evaluate_alarm(s, {{kEnd - 60, 10, 1000}}, kEnd, "OK", 0).state, "ALARM");
  s.evaluate_low_sample_count_percentile = "evaluate";
  EXPECT_EQ(evaluate_alarm(s, {{kEnd - 60, 10, 50}}, kEnd, "OK", 0).state, "ALARM");
}

TEST(AlarmEvaluation, PointsOutsideRangeIgnored) {
  auto s = spec(Comparison::GreaterThanThreshold, 5, 1, 1);
  EXPECT_EQ(evaluate_alarm(s, {{kEnd, 10, 1}}, kEnd, "OK", 0).state, "INSUFFICIENT_DATA");  // in the future
  EXPECT_EQ(evaluate_alarm(s, {{kEnd - 60 * 10, 10, 1}}, kEnd, "OK", 0).state, "INSUFFICIENT_DATA");
  EXPECT_EQ(evaluate_alarm(s, {{kEnd - 30, 10, 1}}, kEnd, "OK", 0).state, "ALARM");  // unaligned, inside last period
}

TEST(AlarmEvaluation, NumberFormatting) {
  EXPECT_EQ(format_aws_double(5), "5.0");
  EXPECT_EQ(format_aws_double(0.5), "0.5");
  EXPECT_EQ(format_aws_double(0), "0.0");
  EXPECT_EQ(format_aws_double(-2.25), "-2.25");
  EXPECT_EQ(format_aws_double(1141), "1141.0");
  EXPECT_EQ(format_aws_double(12345000), "1.2345E7");
  EXPECT_EQ(format_aws_double(1e7), "1.0E7");
  EXPECT_EQ(format_aws_double(9999999), "9999999.0");
  EXPECT_EQ(format_aws_double(0.001), "0.001");
  EXPECT_EQ(format_aws_double(0.0001), "1.0E-4");
  EXPECT_EQ(format_aws_double(0.01758096118768056), "0.01758096118768056");
  EXPECT_EQ(format_aws_double(8.891518474692088), "8.891518474692088");
}
