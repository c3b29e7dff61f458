// QuantileSketch (accuracy against exact sorted-array quantiles, merge, encoding, garbage input)
// and the extended statistics (names AWS accepts/rejects, values against exact computations).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "services/cloudwatch/extended_statistics.h"
#include "services/cloudwatch/quantile_sketch.h"

namespace vigil::cloudwatch {
namespace {

constexpr double kAccuracy = 0.01;
const std::vector<double> kQuantiles = {0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};

// The definition the sketch approximates: the value at rank floor(q * (n - 1)).
double exact_quantile(const std::vector<double>& sorted, double q) {
  if (q <= 0) return sorted.front();
  if (q >= 1) return sorted.back();
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

double relative_error(double got, double want) {
  if (want == 0) return std::fabs(got);
  return std::fabs(got - want) / std::fabs(want);
}

// Checks every quantile in kQuantiles; returns the worst relative error seen.
double check_accuracy(std::vector<double> values, const char* label) {
  QuantileSketch s;
  for (double v : values) s.add(v);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(s.total_count(), static_cast<double>(values.size())) << label;
  EXPECT_EQ(s.min(), values.front()) << label;
  EXPECT_EQ(s.max(), values.back()) << label;
  double worst = 0;
  for (double q : kQuantiles) {
    double want = exact_quantile(values, q), got = s.quantile(q);
    double err = relative_error(got, want);
    worst = std::max(worst, err);
    EXPECT_LE(err, kAccuracy) << label << " q=" << q << " want " << want << " got " << got;
  }
  EXPECT_EQ(s.quantile(0), values.front()) << label;
  EXPECT_EQ(s.quantile(1), values.back()) << label;
  return worst;
}

std::string encoded(const QuantileSketch& s) {
  std::string out;
  s.encode(out);
  return out;
}

void expect_same(const QuantileSketch& a, const QuantileSketch& b) {
  EXPECT_NEAR(a.total_count(), b.total_count(), 1e-12 * a.total_count());  // summation order differs
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.buckets(), b.buckets());
  EXPECT_EQ(encoded(a), encoded(b));
}

// ---------------------------------------------------------------- QuantileSketch

TEST(QuantileSketch, EmptySketch) {
  QuantileSketch s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.total_count(), 0);
  EXPECT_TRUE(std::isnan(s.quantile(0.5)));
  EXPECT_TRUE(s.buckets().empty());
  std::string bytes = encoded(s);
  EXPECT_EQ(bytes.size(), 2u);
  std::string_view in = bytes;
  auto back = QuantileSketch::decode(in);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
  EXPECT_TRUE(in.empty());
}

TEST(QuantileSketch, SingleValueIsExact) {
  for (double v : {42.0, 0.123, -7.5, 0.0, 1e300, 1e-70}) {
    QuantileSketch s;
    s.add(v, 3);
    EXPECT_EQ(s.total_count(), 3);
    for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) EXPECT_EQ(s.quantile(q), v);
    ASSERT_EQ(s.buckets().size(), 1u);
    EXPECT_EQ(s.buckets()[0].value, v);  // the representative is clamped to [min, max]
  }
}

TEST(QuantileSketch, IgnoresInvalidInput) {
  QuantileSketch s;
  s.add(std::numeric_limits<double>::quiet_NaN());
  s.add(std::numeric_limits<double>::infinity());
  s.add(1, 0);
  s.add(1, -1);
  s.add(1, std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(s.empty());
  s.add(-0.0);
  EXPECT_EQ(s.min(), 0);
  EXPECT_FALSE(std::signbit(s.min()));
}

TEST(QuantileSketch, AccuracyAcrossDistributions) {
  std::mt19937_64 rng(7);
  const int n = 20000;
  double worst = 0;
  auto gen = [&](auto dist) {
    std::vector<double> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
  };
  worst = std::max(worst, check_accuracy(gen(std::uniform_real_distribution<double>(0, 1000)), "uniform"));
  worst = std::max(worst, check_accuracy(gen(std::exponential_distribution<double>(0.01)), "exponential"));
  worst = std::max(worst, check_accuracy(gen(std::lognormal_distribution<double>(0, 2)), "lognormal"));
  worst = std::max(worst, check_accuracy(gen(std::lognormal_distribution<double>(3, 4)), "wide lognormal"));
  {
    auto v = gen(std::uniform_real_distribution<double>(-500, -0.001));
    worst = std::max(worst, check_accuracy(v, "negative"));
  }
  worst = std::max(worst, check_accuracy(gen(std::normal_distribution<double>(0, 100)), "mixed signs"));
  {
    auto v = gen(std::lognormal_distribution<double>(1, 1));
    for (size_t i = 0; i < v.size(); i += 3) v[i] = 0;  // a third zeros
    for (size_t i = 1; i < v.size(); i += 7) v[i] = -v[i];
    worst = std::max(worst, check_accuracy(v, "zeros and mixed"));
  }
  {
    std::vector<double> v;  // integer latencies, many duplicates
    std::geometric_distribution<int> g(0.05);
    for (int i = 0; i < n; ++i) v.push_back(1 + g(rng));
    worst = std::max(worst, check_accuracy(v, "integers"));
  }
  for (double edge : {-260.0, 300.0}) {
    std::vector<double> v;  // the edges of CloudWatch's accepted magnitudes, both signs
    std::uniform_real_distribution<double> e(edge, edge + 55);
    for (int i = 0; i < 4000; ++i) v.push_back(std::exp2(e(rng)) * (i % 2 ? 1 : -1));
    v.push_back(std::exp2(edge));
    v.push_back(-std::exp2(edge + 55));
    worst = std::max(worst, check_accuracy(v, edge < 0 ? "tiny magnitudes" : "huge magnitudes"));
  }
  std::printf("[ accuracy ] worst relative error over all distributions/quantiles: %.5f%%\n", worst * 100);
}

TEST(QuantileSketch, FractionalCounts) {
  QuantileSketch s;
  // Weighted data: value i with weight 0.5 for i = 1..1000.
  for (int i = 1; i <= 1000; ++i) s.add(i, 0.5);
  EXPECT_DOUBLE_EQ(s.total_count(), 500);
  // rank q*(500-1) over mass 0.5 per value -> value index floor(rank / 0.5).
  for (double q : {0.1, 0.5, 0.9}) {
    double rank = q * 499;
    double want = std::floor(rank / 0.5) + 1;
    EXPECT_LE(relative_error(s.quantile(q), want), kAccuracy) << q;
  }
  QuantileSketch tiny;
  tiny.add(5, 0.25);
  EXPECT_EQ(tiny.quantile(0.5), 5);
}

TEST(QuantileSketch, MergeEqualsAddingEverything) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> d(2, 3);
  QuantileSketch all, merged;
  std::vector<QuantileSketch> parts(10);
  for (int i = 0; i < 50000; ++i) {
    double v = d(rng) * (i % 5 == 0 ? -1 : 1);
    if (i % 97 == 0) v = 0;
    double c = 1 + i % 3;
    all.add(v, c);
    parts[static_cast<size_t>(i) % parts.size()].add(v, c);
  }
  for (const auto& p : parts) merged.merge(p);
  expect_same(all, merged);
  for (double q : kQuantiles) EXPECT_EQ(all.quantile(q), merged.quantile(q));

  QuantileSketch empty, copy = all;
  copy.merge(empty);
  expect_same(all, copy);
  empty.merge(all);
  expect_same(all, empty);
}

TEST(QuantileSketch, MemoryBoundedByCollapsingLowestBuckets) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> e(-1000, 1000);
  QuantileSketch s, merged;
  std::vector<double> values;
  for (int i = 0; i < 100000; ++i) {
    double v = std::exp2(e(rng));  // 2^-1000 .. 2^1000: far more than 2048 buckets wide
    values.push_back(v);
    s.add(v);
  }
  EXPECT_LE(s.bucket_count(), 2048u);
  EXPECT_EQ(s.total_count(), 100000);
  std::sort(values.begin(), values.end());
  // Collapsing folds the smallest values; the top 2048 buckets (a ratio of ~2^58 of the 2^2000
  // here, so q above ~0.971) keep their accuracy.
  for (double q : {0.975, 0.99, 0.999})
    EXPECT_LE(relative_error(s.quantile(q), exact_quantile(values, q)), kAccuracy) << q;
  EXPECT_EQ(s.quantile(0), values.front());
  // Merging two wide sketches stays bounded too, and decodes back.
  merged.merge(s);
  merged.merge(s);
  EXPECT_LE(merged.bucket_count(), 2048u);
  std::string bytes = encoded(merged);
  std::string_view in = bytes;
  auto back = QuantileSketch::decode(in);
  ASSERT_TRUE(back);
  expect_same(merged, *back);
  // Descending extremes (new lowest each time) also stay bounded.
  QuantileSketch desc;
  for (int i = 0; i < 5000; ++i) desc.add(std::exp2(1000.0 - i * 0.4));
  EXPECT_LE(desc.bucket_count(), 2048u);
  EXPECT_EQ(desc.quantile(1), std::exp2(1000.0));
}

TEST(QuantileSketch, EncodeDecodeRoundTrip) {
  std::mt19937_64 rng(5);
  std::vector<QuantileSketch> sketches(6);
  sketches[0].add(1);
  sketches[1].add(-2.5, 0.75);
  sketches[2].add(0, 4);
  std::lognormal_distribution<double> d(0, 2);
  for (int i = 0; i < 10000; ++i) sketches[3].add(d(rng));
  for (int i = 0; i < 1000; ++i) sketches[4].add(d(rng) - 3, 0.1 * (i % 7 + 1));
  for (int i = 0; i < 1000; ++i) sketches[5].add(i % 3 ? 0 : (i % 2 ? d(rng) : -d(rng)), 1e6 + i);
  std::string all;
  for (const auto& s : sketches) {
    std::string one = encoded(s);
    std::string_view in = one;
    auto back = QuantileSketch::decode(in);
    ASSERT_TRUE(back);
    EXPECT_TRUE(in.empty());
    expect_same(s, *back);
    all += one;
  }
  // Consumes exactly one sketch from the front: concatenations decode in sequence.
  std::string_view in = all;
  for (const auto& s : sketches) {
    auto back = QuantileSketch::decode(in);
    ASSERT_TRUE(back);
    expect_same(s, *back);
  }
  EXPECT_TRUE(in.empty());
}

TEST(QuantileSketch, EncodedSizes) {
  auto size_of = [](const QuantileSketch& s) { return encoded(s).size(); };
  QuantileSketch one_int, one_double, hundred, lognormal;
  one_int.add(250);
  one_double.add(0.1234);
  for (int i = 1; i <= 100; ++i) hundred.add(i * 10.0);
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> d(3, 1.5);
  for (int i = 0; i < 10000; ++i) lognormal.add(d(rng));
  EXPECT_LE(size_of(one_int), 5u);
  EXPECT_LE(size_of(one_double), 11u);
  QuantileSketch same;
  for (int i = 0; i < 1000; ++i) same.add(3.5);
  EXPECT_LE(size_of(same), 8u);  // 1000 copies of one value: float32 + varint count
  EXPECT_LE(size_of(hundred), 250u);
  EXPECT_LE(size_of(lognormal), 1500u);
  std::printf("[ sizes ] 1 integer value: %zu B, 1 double value: %zu B, 100 distinct: %zu B, "
              "10k lognormal: %zu B (%zu buckets)\n",
              size_of(one_int), size_of(one_double), size_of(hundred), size_of(lognormal),
              lognormal.bucket_count());
}

TEST(QuantileSketch, RejectsTruncationsAndWrongVersion) {
  QuantileSketch s;
  for (int i = 1; i <= 300; ++i) s.add(i * 1.5 - 100, i % 4 ? 1 : 0.5);
  s.add(0);
  std::string bytes = encoded(s);
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::string_view in(bytes.data(), len);
    EXPECT_FALSE(QuantileSketch::decode(in)) << "prefix of " << len;
  }
  std::string wrong = bytes;
  wrong[0] = 2;
  std::string_view in = wrong;
  EXPECT_FALSE(QuantileSketch::decode(in));
}

TEST(QuantileSketch, GarbageNeverCrashes) {
  std::mt19937_64 rng(13);
  auto check_sane = [](const QuantileSketch& s) {
    EXPECT_TRUE(std::isfinite(s.total_count()));
    EXPECT_LE(s.bucket_count(), 2u * 2048 + 1);
    EXPECT_LE(s.min(), s.max());
    if (!s.empty()) {
      double q = s.quantile(0.5);
      EXPECT_TRUE(q >= s.min() && q <= s.max());
    }
  };
  size_t accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (!junk.empty() && i % 2) junk[0] = 1;  // get past the version check half the time
    std::string_view in = junk;
    if (auto s = QuantileSketch::decode(in)) {
      ++accepted;
      check_sane(*s);
    }
  }
  // Bit flips of a valid encoding.
  QuantileSketch base;
  std::lognormal_distribution<double> d(0, 3);
  for (int i = 0; i < 2000; ++i) base.add(d(rng) * (i % 3 ? 1 : -1), i % 5 ? 1 : 2.5);
  std::string bytes = encoded(base);
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = bytes;
    mutated[rng() % mutated.size()] ^= static_cast<char>(1 << (rng() % 8));
    std::string_view in = mutated;
    if (auto s = QuantileSketch::decode(in)) {
      ++accepted;
      check_sane(*s);
    }
  }
  std::printf("[ garbage ] %zu of 120000 random/mutated inputs decoded (all sane)\n", accepted);
}

// ---------------------------------------------------------------- ExtendedStatistics

ExtendedStatistic parsed(const char* name) {
  auto st = parse_extended_statistic(name);
  EXPECT_TRUE(st) << name;
  return st.value_or(ExtendedStatistic{});
}

TEST(ExtendedStatistics, ParsesPercentiles) {
  struct Case {
    const char* name;
    double p;
  };
  for (auto c : std::vector<Case>{{"p0", 0}, {"p1", 1}, {"p50", 50}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99},
                                  {"p05", 5}, {"p0.5", 0.5}, {"p100", 100}, {"p99.", 99}}) {
    auto st = parsed(c.name);
    EXPECT_EQ(st.kind, ExtendedKind::Percentile) << c.name;
    EXPECT_DOUBLE_EQ(st.percentile, c.p) << c.name;
    EXPECT_EQ(st.name, c.name);
  }
}

TEST(ExtendedStatistics, ParsesRangeForms) {
  auto st = parsed("tm90");
  EXPECT_EQ(st.kind, ExtendedKind::TrimmedMean);
  EXPECT_TRUE(st.percent);
  EXPECT_FALSE(st.lower);
  EXPECT_EQ(st.upper, 90);
  EXPECT_EQ(canonical_name(st), "TM(:90%)");

  st = parsed("wm98.5");
  EXPECT_EQ(st.kind, ExtendedKind::WinsorizedMean);
  EXPECT_EQ(st.upper, 98.5);
  EXPECT_EQ(parsed("tc90").kind, ExtendedKind::TrimmedCount);
  EXPECT_EQ(parsed("ts90").kind, ExtendedKind::TrimmedSum);
  EXPECT_EQ(parsed("tm99.1234567891").upper, 99.1234567891);

  st = parsed("TM(10%:90%)");
  EXPECT_TRUE(st.percent);
  EXPECT_EQ(st.lower, 10);
  EXPECT_EQ(st.upper, 90);
  EXPECT_EQ(canonical_name(st), "TM(10%:90%)");

  st = parsed("TM(10%:)");
  EXPECT_EQ(st.lower, 10);
  EXPECT_FALSE(st.upper);
  st = parsed("WM(:95%)");
  EXPECT_EQ(st.kind, ExtendedKind::WinsorizedMean);
  EXPECT_FALSE(st.lower);
  EXPECT_EQ(st.upper, 95);

  st = parsed("TC(0.005:0.030)");
  EXPECT_EQ(st.kind, ExtendedKind::TrimmedCount);
  EXPECT_FALSE(st.percent);
  EXPECT_EQ(st.lower, 0.005);
  EXPECT_EQ(st.upper, 0.03);
  EXPECT_EQ(canonical_name(st), "TC(0.005:0.03)");

  st = parsed("TS(80%:)");
  EXPECT_EQ(st.kind, ExtendedKind::TrimmedSum);
  st = parsed("TM(150:1000)");
  EXPECT_FALSE(st.percent);
  EXPECT_EQ(st.lower, 150);
  EXPECT_EQ(st.upper, 1000);
  st = parsed("TM(-5:5)");
  EXPECT_EQ(st.lower, -5);

  st = parsed("PR(:300)");
  EXPECT_EQ(st.kind, ExtendedKind::PercentileRank);
  EXPECT_FALSE(st.percent);
  EXPECT_FALSE(st.lower);
  EXPECT_EQ(st.upper, 300);
  EXPECT_EQ(canonical_name(st), "PR(:300)");
  st = parsed("PR(100:2000)");
  EXPECT_EQ(st.lower, 100);
  EXPECT_EQ(parsed("PR(10:)").lower, 10);

  st = parsed("IQM");
  EXPECT_EQ(st.kind, ExtendedKind::TrimmedMean);
  EXPECT_TRUE(st.percent);
  EXPECT_EQ(st.lower, 25);
  EXPECT_EQ(st.upper, 75);
  EXPECT_EQ(st.name, "IQM");
  EXPECT_EQ(canonical_name(st), "TM(25%:75%)");
  EXPECT_EQ(canonical_name(parsed("p99.9")), "p99.9");
}

TEST(ExtendedStatistics, RejectsNamesAwsRejects) {
  for (const char* name :
       {"", "p", "P99", "p101", "p100.0", "p999", "p99.999", "p-1", "p1e2", "p 99", "p99 ", "p.5", "pp99", "Average",
        "iqm", "IQM ", "tm", "TM90", "Tm90", "tm101", "tm(10%:90%)", "tm90%", "tm-5", "TM()", "TM(:)", "TM(10%)",
        "TM(10%:90%", "TM10%:90%)", "TM(90%:10%)", "TM(50%:50%)", "TM(10%:500)", "TM(10:90%)", "TM(10%:101%)",
        "TM(1:2:3)", "TM(500:80)", "TM(1e2:)", "TM(.5:)", "TM(5.:)", "TM(0.12345678901:)", "TM(+5:)", "PR(10%:90%)",
        "PR(:)", "pr(:300)", "PR:300", "pr90", "XX(1:2)", "TM(10%:90%)x", "tc90.", "TM( 10%:90%)"}) {
    EXPECT_FALSE(parse_extended_statistic(name)) << '"' << name << '"';
  }
}

// Exact reference over sorted unit-weight values: element j occupies mass [j, j+1).
struct Exact {
  std::vector<double> v;  // sorted
  double n() const { return static_cast<double>(v.size()); }
  double sum() const {
    double s = 0;
    for (double x : v) s += x;
    return s;
  }
  // Percent bounds a, b in [0, 1].
  std::pair<double, double> trim_pct(double a, double b) const {
    double lo = a * n(), hi = b * n(), tc = 0, ts = 0;
    for (size_t j = 0; j < v.size(); ++j) {
      double w = std::min<double>(static_cast<double>(j) + 1, hi) - std::max<double>(static_cast<double>(j), lo);
      if (w > 0) {
        tc += w;
        ts += w * v[j];
      }
    }
    return {tc, ts};
  }
  double wm_pct(double a, double b) const {
    auto [tc, ts] = trim_pct(a, b);
    double below = a > 0 ? a * n() * exact_quantile(v, a) : 0;
    double above = b < 1 ? (1 - b) * n() * exact_quantile(v, b) : 0;
    (void)tc;
    return (ts + below + above) / n();
  }
};

struct Bucket {
  QuantileSketch sketch;
  double count = 0, sum = 0, min = 0, max = 0;
  explicit Bucket(const std::vector<double>& values) {
    for (double x : values) {
      sketch.add(x);
      if (count == 0) min = max = x;
      min = std::min(min, x);
      max = std::max(max, x);
      count += 1;
      sum += x;
    }
  }
  std::optional<double> stat(const char* name) const {
    auto st = parse_extended_statistic(name);
    EXPECT_TRUE(st) << name;
    if (!st) return std::nullopt;
    return compute_extended_statistic(*st, sketch, count, sum, min, max);
  }
};

void expect_near_rel(std::optional<double> got, double want, const char* name, double tol = kAccuracy) {
  ASSERT_TRUE(got) << name;
  EXPECT_LE(std::fabs(*got - want), tol * std::fabs(want) + 1e-9) << name << " want " << want << " got " << *got;
}

TEST(ExtendedStatistics, ComputesOnSmallData) {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  std::shuffle(values.begin(), values.end(), std::mt19937(1));
  Bucket b(values);
  expect_near_rel(b.stat("p50"), 50, "p50");
  expect_near_rel(b.stat("p90"), 90, "p90");
  EXPECT_EQ(b.stat("p0"), 1);
  EXPECT_EQ(b.stat("p100"), 100);
  expect_near_rel(b.stat("TM(10%:90%)"), 50.5, "TM(10%:90%)");  // mean of 11..90
  expect_near_rel(b.stat("tm90"), 45.5, "tm90");                // mean of 1..90
  expect_near_rel(b.stat("TM(:90%)"), 45.5, "TM(:90%)");
  expect_near_rel(b.stat("TM(10%:)"), 55.5, "TM(10%:)");   // mean of 11..100
  expect_near_rel(b.stat("IQM"), 50.5, "IQM");             // mean of 26..75
  expect_near_rel(b.stat("TC(10%:90%)"), 80, "TC", 1e-12);  // interpolated mass: exact
  expect_near_rel(b.stat("tc90"), 90, "tc90", 1e-12);
  expect_near_rel(b.stat("TS(10%:90%)"), 4040, "TS(10%:90%)");
  expect_near_rel(b.stat("ts90"), 4095, "ts90");
  expect_near_rel(b.stat("TS(80%:)"), 1810, "TS(80%:)");  // 81..100
  // Winsorized: 1..10 count as p10 (10), 91..100 as p90 (90).
  expect_near_rel(b.stat("WM(10%:90%)"), (4040 + 10 * 10 + 10 * 90) / 100.0, "WM(10%:90%)");
  expect_near_rel(b.stat("wm90"), (4095 + 10 * 90) / 100.0, "wm90");
  expect_near_rel(b.stat("TM(0%:100%)"), 50.5, "TM(0%:100%)", 1e-12);  // exact sum/count
  // Absolute bounds (lower exclusive, upper inclusive); bounds kept >1% away from data.
  expect_near_rel(b.stat("TM(20.5:40.5)"), 30.5, "TM(20.5:40.5)");  // 21..40
  expect_near_rel(b.stat("TC(20.5:40.5)"), 20, "TC(20.5:40.5)", 0);
  expect_near_rel(b.stat("TS(20.5:40.5)"), 610, "TS(20.5:40.5)");
  expect_near_rel(b.stat("PR(:40.5)"), 40, "PR(:40.5)", 0);
  expect_near_rel(b.stat("PR(20.5:)"), 80, "PR(20.5:)", 0);
  expect_near_rel(b.stat("PR(20.5:40.5)"), 20, "PR(20.5:40.5)", 0);
  expect_near_rel(b.stat("PR(0:100)"), 100, "PR(0:100)", 0);
  expect_near_rel(b.stat("PR(:1)"), 1, "PR(:1)", 0);  // upper inclusive, exact via min
  expect_near_rel(b.stat("PR(200:)"), 0, "PR(200:)", 0);
  expect_near_rel(b.stat("PR(:0.5)"), 0, "PR(:0.5)", 0);
  expect_near_rel(b.stat("TC(200:)"), 0, "TC(200:)", 0);
  expect_near_rel(b.stat("TS(200:)"), 0, "TS(200:)", 0);
  EXPECT_FALSE(b.stat("TM(200:)"));  // empty range: no value
  EXPECT_FALSE(b.stat("tm0"));
  expect_near_rel(b.stat("TM(0:1000)"), 50.5, "TM(0:1000)", 1e-12);
  expect_near_rel(b.stat("TC(:100)"), 100, "TC(:100)", 0);  // exact via max
  // Winsorized with absolute bounds: clamp into [20.5, 40.5].
  double wm = 0;
  for (int i = 1; i <= 100; ++i) wm += std::clamp(static_cast<double>(i), 20.5, 40.5);
  expect_near_rel(b.stat("WM(20.5:40.5)"), wm / 100, "WM(20.5:40.5)");
}

TEST(ExtendedStatistics, PercentBoundsMatchExactOnRandomData) {
  std::mt19937_64 rng(21);
  std::lognormal_distribution<double> d(4, 1);
  std::vector<double> values(2000);
  for (auto& x : values) x = d(rng);
  Bucket b(values);
  Exact e{values};
  std::sort(e.v.begin(), e.v.end());
  struct Case {
    const char* name;
    double a, b;
  };
  for (auto c : std::vector<Case>{{"TM(10%:90%)", 0.1, 0.9},
                                  {"tm99", 0, 0.99},
                                  {"TM(2.5%:97.5%)", 0.025, 0.975},
                                  {"IQM", 0.25, 0.75},
                                  {"TM(33.333%:)", 0.33333, 1}}) {
    auto [tc, ts] = e.trim_pct(c.a, c.b);
    expect_near_rel(b.stat(c.name), ts / tc, c.name);
  }
  for (auto c : std::vector<Case>{{"TS(10%:90%)", 0.1, 0.9}, {"ts95", 0, 0.95}, {"TS(0.1%:99.9%)", 0.001, 0.999}}) {
    expect_near_rel(b.stat(c.name), e.trim_pct(c.a, c.b).second, c.name);
  }
  for (auto c : std::vector<Case>{{"TC(10%:90%)", 0.1, 0.9}, {"tc95.5", 0, 0.955}}) {
    expect_near_rel(b.stat(c.name), e.trim_pct(c.a, c.b).first, c.name, 1e-9);
  }
  for (auto c : std::vector<Case>{{"WM(10%:90%)", 0.1, 0.9}, {"wm99", 0, 0.99}, {"WM(5%:)", 0.05, 1}}) {
    expect_near_rel(b.stat(c.name), e.wm_pct(c.a, c.b), c.name);
  }
  for (const char* p : {"p1", "p10", "p50", "p90", "p99", "p99.9"}) {
    double q = std::strtod(p + 1, nullptr) / 100;
    expect_near_rel(b.stat(p), exact_quantile(e.v, q), p);
  }
}

TEST(ExtendedStatistics, NegativeAndMixedValues) {
  std::vector<double> values;
  for (int i = -50; i <= 49; ++i) values.push_back(i);  // -50..49
  Bucket b(values);
  expect_near_rel(b.stat("p0"), -50, "p0", 0);
  expect_near_rel(b.stat("p25"), -26, "p25");  // rank floor(0.25*99)=24 -> -26
  expect_near_rel(b.stat("TM(25%:75%)"), -0.5, "IQM", 0.05);  // sums cancel: absolute check below
  EXPECT_NEAR(*b.stat("TM(25%:75%)"), -0.5, 0.3);
  expect_near_rel(b.stat("PR(:-10.5)"), 40, "PR(:-10.5)", 0);  // -50..-11
  expect_near_rel(b.stat("TC(-10.5:10.5)"), 21, "TC(-10.5:10.5)", 0);
}

TEST(ExtendedStatistics, SummaryOnlyData) {
  QuantileSketch none;
  auto p50 = parse_extended_statistic("p50").value();
  auto tm = parse_extended_statistic("TM(10%:90%)").value();
  auto tc = parse_extended_statistic("TC(10%:90%)").value();
  auto pr = parse_extended_statistic("PR(:7)").value();
  auto pr_above = parse_extended_statistic("PR(7:)").value();
  // StatisticValues with Min != Max: no percentile.
  EXPECT_FALSE(compute_extended_statistic(p50, none, 5, 10, 1, 3));
  EXPECT_FALSE(compute_extended_statistic(tm, none, 5, 10, 1, 3));
  // All values equal: every statistic is computable.
  EXPECT_EQ(compute_extended_statistic(p50, none, 5, 35, 7, 7), 7);
  EXPECT_DOUBLE_EQ(compute_extended_statistic(tm, none, 5, 35, 7, 7).value(), 7);
  EXPECT_DOUBLE_EQ(compute_extended_statistic(tc, none, 5, 35, 7, 7).value(), 4);
  EXPECT_EQ(compute_extended_statistic(pr, none, 5, 35, 7, 7), 100);
  EXPECT_EQ(compute_extended_statistic(pr_above, none, 5, 35, 7, 7), 0);
  // No data at all.
  EXPECT_FALSE(compute_extended_statistic(p50, none, 0, 0, 0, 0));
  // Raw values plus a Min != Max set the sketch never saw: no value either.
  QuantileSketch partial;
  partial.add(4);
  EXPECT_FALSE(compute_extended_statistic(p50, partial, 6, 20, 1, 4));
  EXPECT_EQ(compute_extended_statistic(p50, partial, 1, 4, 4, 4), 4);
}

TEST(ExtendedStatistics, FractionalCounts) {
  QuantileSketch s;
  s.add(10, 0.5);
  s.add(20, 1.5);
  auto st = parse_extended_statistic("TC(:50%)").value();
  EXPECT_DOUBLE_EQ(compute_extended_statistic(st, s, 2, 35, 10, 20).value(), 1.0);
  // Lowest half of the mass: 0.5 of 10 and 0.5 of 20.
  st = parse_extended_statistic("TS(:50%)").value();
  EXPECT_NEAR(compute_extended_statistic(st, s, 2, 35, 10, 20).value(), 15, 0.15);
  st = parse_extended_statistic("PR(:15)").value();
  EXPECT_DOUBLE_EQ(compute_extended_statistic(st, s, 2, 35, 10, 20).value(), 25);
}

}  // namespace
}  // namespace vigil::cloudwatch
