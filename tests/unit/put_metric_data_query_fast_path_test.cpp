// PutMetricData's AWS query fast decoder (services/cloudwatch/put_metric_data_query_decoder)
// against the generic path (QueryCodec::decode_request + validate_input with the embedded
// cloudwatch model, then put_metric_data_input): whatever the decoder accepts, the generic
// path accepts with the identical PutMetricDataInput. Declining is always safe (the server
// then takes the generic path), but every request botocore writes must be taken, or the fast
// path is not one. Bodies are built the way botocore builds them (Python's urlencode: spaces
// as '+', everything but letters, digits and _.-~ percent-encoded).
//
// Also QueryCodec::resolve_operation, which finds Action without building the parameter list,
// against the list-building version it replaced.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/http_message.h"
#include "protocol/query_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "protocol/xml.h"
#include "put_metric_data_test_support.h"
#include "services/cloudwatch/put_metric_data_query_decoder.h"

namespace vigil::cloudwatch {
namespace {

using test_support::describe;
using test_support::number_text;

using Params = std::vector<std::pair<std::string, std::string>>;

// Python's urllib.parse.quote_plus, as botocore's urlencode applies it to names and values.
std::string quote_plus(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string urlencode(const Params& params) {
  std::string out;
  for (const auto& p : params) {
    if (!out.empty()) out += '&';
    out += quote_plus(p.first) + "=" + quote_plus(p.second);
  }
  return out;
}

// A request: Action, Version, Namespace, then the datums' parameters (each already prefixed).
std::string request(const Params& data, const std::string& ns = "ns") {
  Params all = {{"Action", "PutMetricData"}, {"Version", "2010-08-01"}, {"Namespace", ns}};
  all.insert(all.end(), data.begin(), data.end());
  return urlencode(all);
}

// One datum's members (names relative to the datum) as MetricData.member.<i>.<name>.
Params datum(int index, const Params& members) {
  Params out;
  for (const auto& p : members) out.emplace_back("MetricData.member." + std::to_string(index) + "." + p.first, p.second);
  return out;
}

// A request with one datum: MetricName=m and `members`.
std::string one(const Params& members, const std::string& ns = "ns") {
  Params all = {{"MetricName", "m"}};
  all.insert(all.end(), members.begin(), members.end());
  return request(datum(1, all), ns);
}

Params dims_of(size_t n, const std::string& prefix = "d", const std::string& value = "v") {
  Params out;
  for (size_t i = 1; i <= n; ++i) {
    out.emplace_back("Dimensions.member." + std::to_string(i) + ".Name", prefix + std::to_string(i));
    out.emplace_back("Dimensions.member." + std::to_string(i) + ".Value", value);
  }
  return out;
}

Params operator+(Params a, const Params& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Params& operator+=(Params& a, const Params& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Like the benchmark's body: datums of a name, two dimensions, a value, a unit and a timestamp
// (1 000 of them: ~360 KB).
std::string batch(size_t n) {
  Params data;
  for (size_t i = 1; i <= n; ++i)
    data += datum(int(i), {{"MetricName", "RequestLatency" + std::to_string(i % 17)},
                                 {"Dimensions.member.1.Name", "Host"},
                                 {"Dimensions.member.1.Value", "host-" + std::to_string(i % 50) + ".example.com"},
                                 {"Dimensions.member.2.Name", "Service"},
                                 {"Dimensions.member.2.Value", "checkout api"},
                                 {"Value", std::to_string(i) + ".25"},
                                 {"Unit", "Milliseconds"},
                                 {"Timestamp", "2026-12-06T14:00:00Z"}});
  return request(data, "Bench/Checkout");
}

std::string shortest_text(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// Python's repr of a float: the shortest text that round-trips.
std::string shortest(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}


std::string shown(const std::string& body) { return body.size() > 400 ? body.substr(0, 400) + "..." : body; }

// Exactly equal doubles (sign of zero included), which PutMetricDataInput's == does not see.
bool same_bits(const PutMetricDataInput& a, const PutMetricDataInput& b) {
  auto same = [](double x, double y) { return std::signbit(x) == std::signbit(y) && (x == y || (std::isnan(x) && std::isnan(y))); };
  auto same_opt = [&](const std::optional<double>& x, const std::optional<double>& y) { return x.has_value() == y.has_value() && (!x || same(*x, *y)); };
  auto same_list = [&](const std::optional<std::vector<double>>& x, const std::optional<std::vector<double>>& y) {
    if (x.has_value() != y.has_value()) return false;
    if (!x) return true;
    if (x->size() != y->size()) return false;
    for (size_t i = 0; i < x->size(); ++i)
      if (!same((*x)[i], (*y)[i])) return false;
    return true;
  };
  if (!(a == b)) return false;
  if (!a.metric_data) return true;
  for (size_t i = 0; i < a.metric_data->size(); ++i) {
    const auto& x = (*a.metric_data)[i];
    const auto& y = (*b.metric_data)[i];
    if (!same_opt(x.timestamp_s, y.timestamp_s) || !same_opt(x.value, y.value) || !same_list(x.values, y.values) || !same_list(x.counts, y.counts))
      return false;
    if (x.statistic_values &&
        (!same(x.statistic_values->sample_count, y.statistic_values->sample_count) || !same(x.statistic_values->sum, y.statistic_values->sum) ||
         !same(x.statistic_values->minimum, y.statistic_values->minimum) || !same(x.statistic_values->maximum, y.statistic_values->maximum)))
      return false;
  }
  return true;
}

HttpRequest form_request(const std::string& body) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = body;
  return r;
}

class PutMetricDataQueryFastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = protocol::embedded_model("cloudwatch");
    ASSERT_NE(model_, nullptr);
    codec_ = std::make_unique<protocol::QueryCodec>(*model_);
    operation_ = model_->operation("PutMetricData");
    ASSERT_NE(operation_, nullptr);
  }

  // What Dispatcher does on the generic path for a query request, up to the handler's input.
  // Any AwsError (MalformedQueryString, InvalidParameterValue, ValidationError) is "the generic
  // path rejects".
  std::optional<PutMetricDataInput> run_generic(const std::string& body, std::string& error) const {
    try {
      Value input = codec_->decode_request(form_request(body), *operation_);
      protocol::validate_input(input, operation_->input, "ValidationError");  // CloudWatchService::validation_error_code()
      return put_metric_data_input(input);
    } catch (const AwsError& e) {
      error = e.code() + ": " + e.message();
      return std::nullopt;
    }
  }

  // The object the server reuses per thread: it lives across bodies (and tests), so a decode
  // over any previous call's leftovers, accepted or declined, is checked too.
  static PutMetricDataInput& reused() {
    static PutMetricDataInput input;
    return input;
  }

  struct Result {
    bool fast = false;     // the decoder took the body
    bool generic = false;  // the generic path accepted it
  };

  Result check(const std::string& body) {
    PutMetricDataInput fresh;
    Result result;
    result.fast = decode_put_metric_data_query(body, fresh);
    bool fast_reused = decode_put_metric_data_query(body, reused());
    EXPECT_EQ(result.fast, fast_reused) << shown(body);
    if (result.fast && fast_reused) {
      EXPECT_TRUE(same_bits(fresh, reused())) << shown(body) << "\nfresh: " << describe(fresh) << "\nreused: " << describe(reused());
    }
    std::string error;
    std::optional<PutMetricDataInput> generic = run_generic(body, error);
    result.generic = generic.has_value();
    if (result.fast && !generic) {
      ADD_FAILURE() << "the fast decoder accepted what the generic path rejects (" << error << "): " << shown(body);
    } else if (result.fast) {
      EXPECT_TRUE(same_bits(*generic, fresh)) << shown(body) << "\ngeneric: " << describe(*generic) << "\nfast: " << describe(fresh);
    }
    ++checked_;
    return result;
  }
  // A plain request: the generic path accepts it and the fast decoder must take it.
  void check_fast(const std::string& body) {
    Result r = check(body);
    EXPECT_TRUE(r.generic) << "not a valid request: " << shown(body);
    EXPECT_TRUE(r.fast) << "the fast decoder declined a plain request: " << shown(body);
  }
  // A broken constraint or type: the generic path rejects it (so the decoder must decline).
  void check_rejected(const std::string& body) {
    Result r = check(body);
    EXPECT_FALSE(r.generic) << "the generic path accepts: " << shown(body);
  }

  const protocol::ServiceModel* model_ = nullptr;
  std::unique_ptr<protocol::QueryCodec> codec_;
  const protocol::Operation* operation_ = nullptr;
  size_t checked_ = 0;
};

const char* const kUnits[] = {"Seconds",          "Microseconds",     "Milliseconds",     "Bytes",           "Kilobytes",      "Megabytes",
                              "Gigabytes",        "Terabytes",        "Bits",             "Kilobits",        "Megabits",       "Gigabits",
                              "Terabits",         "Percent",          "Count",            "Bytes/Second",    "Kilobytes/Second", "Megabytes/Second",
                              "Gigabytes/Second", "Terabytes/Second", "Bits/Second",      "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
                              "Terabits/Second",  "Count/Second",     "None"};

// The decoder hard-codes the parameter names and constraints (put_metric_data_query_decoder.cpp);
// a model update must revisit it.
TEST_F(PutMetricDataQueryFastPathTest, ModelStillHasWhatTheDecoderHardCodes) {
  using protocol::ShapeType;
  // Parameter names: member names, lists as <name>.member.<i>, nothing renamed or flattened.
  std::vector<const protocol::Shape*> pending = {operation_->input};
  size_t walked = 0;
  while (!pending.empty()) {
    const protocol::Shape* s = pending.back();
    pending.pop_back();
    ++walked;
    EXPECT_FALSE(s->flattened) << s->name;
    for (const auto& m : s->members) {
      EXPECT_TRUE(m.location_name.empty()) << s->name << "." << m.name;
      EXPECT_FALSE(m.flattened) << s->name << "." << m.name;
      EXPECT_TRUE(m.shape->location_name.empty()) << m.shape->name;
      EXPECT_EQ(protocol::member_wire_key(m), m.name);
      if (m.name != "EntityMetricData") pending.push_back(m.shape);
    }
    if (s->type == ShapeType::List) {
      EXPECT_TRUE(s->list_member.location_name.empty()) << s->name;
      EXPECT_TRUE(s->list_member.shape->location_name.empty()) << s->name;
      EXPECT_EQ(protocol::effective_name(&s->list_member, "member"), "member");
      pending.push_back(s->list_member.shape);
    }
  }
  EXPECT_GE(walked, 10u);

  auto members_of = [](const protocol::Shape* s) {
    std::vector<std::string> names;
    for (const auto& m : s->members) names.push_back(m.name + (m.required ? "!" : ""));
    std::sort(names.begin(), names.end());
    return names;
  };
  const protocol::Shape* in = operation_->input;
  EXPECT_EQ(members_of(in), (std::vector<std::string>{"EntityMetricData", "MetricData", "Namespace!", "StrictEntityValidation"}));
  const protocol::Shape* ns = in->member("Namespace")->shape;
  EXPECT_EQ(ns->type, ShapeType::String);
  EXPECT_EQ(ns->min, 1);
  EXPECT_EQ(ns->max, 255);
  EXPECT_EQ(ns->pattern, "[^:].*");
  EXPECT_EQ(in->member("StrictEntityValidation")->shape->type, ShapeType::Boolean);
  const protocol::Shape* data = in->member("MetricData")->shape;
  EXPECT_EQ(data->type, ShapeType::List);
  EXPECT_FALSE(data->min);
  EXPECT_FALSE(data->max);
  const protocol::Shape* datum = data->list_member.shape;
  EXPECT_EQ(members_of(datum), (std::vector<std::string>{"Counts", "Dimensions", "MetricName!", "StatisticValues", "StorageResolution", "Timestamp",
                                                         "Unit", "Value", "Values"}));
  const protocol::Shape* name = datum->member("MetricName")->shape;
  EXPECT_EQ(name->type, ShapeType::String);
  EXPECT_EQ(name->min, 1);
  EXPECT_EQ(name->max, 255);
  EXPECT_TRUE(name->pattern.empty());
  const protocol::Shape* dims = datum->member("Dimensions")->shape;
  EXPECT_EQ(dims->type, ShapeType::List);
  EXPECT_FALSE(dims->min);
  EXPECT_EQ(dims->max, 30);
  const protocol::Shape* dim = dims->list_member.shape;
  EXPECT_EQ(members_of(dim), (std::vector<std::string>{"Name!", "Value!"}));
  EXPECT_EQ(dim->member("Name")->shape->min, 1);
  EXPECT_EQ(dim->member("Name")->shape->max, 255);
  EXPECT_EQ(dim->member("Value")->shape->min, 1);
  EXPECT_EQ(dim->member("Value")->shape->max, 1024);
  EXPECT_TRUE(dim->member("Name")->shape->pattern.empty());
  EXPECT_TRUE(dim->member("Value")->shape->pattern.empty());
  EXPECT_EQ(datum->member("Timestamp")->shape->type, ShapeType::Timestamp);
  for (const char* member : {"Value", "Values", "Counts"}) {
    const protocol::Shape* s = datum->member(member)->shape;
    if (s->type == ShapeType::List) {
      EXPECT_FALSE(s->min) << member;
      EXPECT_FALSE(s->max) << member;
      s = s->list_member.shape;
    }
    EXPECT_EQ(s->type, ShapeType::Double) << member;
    EXPECT_FALSE(s->min) << member;
    EXPECT_FALSE(s->max) << member;
  }
  const protocol::Shape* stats = datum->member("StatisticValues")->shape;
  EXPECT_EQ(members_of(stats), (std::vector<std::string>{"Maximum!", "Minimum!", "SampleCount!", "Sum!"}));
  for (const auto& m : stats->members) EXPECT_EQ(m.shape->type, ShapeType::Double);
  EXPECT_EQ(datum->member("Unit")->shape->enum_values, std::vector<std::string>(std::begin(kUnits), std::end(kUnits)));
  const protocol::Shape* resolution = datum->member("StorageResolution")->shape;
  EXPECT_EQ(resolution->type, ShapeType::Integer);
  EXPECT_EQ(resolution->min, 1);
  EXPECT_FALSE(resolution->max);
}

// A body botocore 1.29 (Debian's python3-boto3) and 1.43 both wrote, byte for byte, for
// CloudWatch's query protocol; both paths against a hand-written expectation.
TEST_F(PutMetricDataQueryFastPathTest, DecodesWhatBotocoreWrites) {
  const std::string body =
      "Action=PutMetricData&Version=2010-08-01&Namespace=App%2FWeb+s%C3%A9rvice&MetricData.member.1.MetricName=Latency+ms&MetricData.member.1."
      "Dimensions.member.1.Name=Host&MetricData.member.1.Dimensions.member.1.Value=a+b%2Bc%26d%3De%2F%C3%A9&MetricData.member.1.Dimensions."
      "member.2.Value=v&MetricData.member.1.Dimensions.member.2.Name=n&MetricData.member.1.Timestamp=2026-12-06T14%3A00%3A00Z&MetricData."
      "member.1.Value=1.5&MetricData.member.1.Unit=Bytes%2FSecond&MetricData.member.1.StorageResolution=1&MetricData.member.2.MetricName=m2&"
      "MetricData.member.2.Timestamp=2026-12-06T14%3A00%3A00.123456Z&MetricData.member.2.Values.member.1=1.0&MetricData.member.2.Values."
      "member.2=2.5&MetricData.member.2.Values.member.3=1e-05&MetricData.member.2.Values.member.4=1.5e%2B20&MetricData.member.2.Values.member."
      "5=0.30000000000000004&MetricData.member.2.Counts.member.1=1&MetricData.member.2.Counts.member.2=2.0&MetricData.member.2.Counts.member.3="
      "3&MetricData.member.2.Counts.member.4=4&MetricData.member.2.Counts.member.5=5&MetricData.member.2.StatisticValues.SampleCount=2&"
      "MetricData.member.2.StatisticValues.Sum=3.0&MetricData.member.2.StatisticValues.Minimum=-1&MetricData.member.2.StatisticValues.Maximum="
      "2&MetricData.member.3.MetricName=m3&MetricData.member.3.Dimensions=&MetricData.member.3.Values=&MetricData.member.3.Timestamp=2023-11-"
      "14T22%3A13%3A20.500000Z&MetricData.member.3.Value=3";
  PutMetricDataInput expected;
  expected.namespace_ = "App/Web s\xc3\xa9rvice";
  expected.metric_data.emplace(3);
  auto& d = *expected.metric_data;
  d[0].metric_name = "Latency ms";
  d[0].dimensions = {{"Host", "a b+c&d=e/\xc3\xa9"}, {"n", "v"}};
  d[0].timestamp_s = 1796565600;  // 2026-12-06T14:00:00Z
  d[0].value = 1.5;
  d[0].unit = "Bytes/Second";
  d[0].storage_resolution = 1;
  d[1].metric_name = "m2";
  d[1].timestamp_s = 1796565600.0 + 0.123456;  // as parse_iso8601 adds the fraction
  d[1].values = std::vector<double>{1.0, 2.5, 1e-05, 1.5e20, 0.30000000000000004};
  d[1].counts = std::vector<double>{1, 2, 3, 4, 5};
  d[1].statistic_values = StatisticSetInput{2, 3, -1, 2};
  d[2].metric_name = "m3";
  d[2].values = std::vector<double>{};
  d[2].timestamp_s = 1700000000.5;
  d[2].value = 3;

  PutMetricDataInput fast;
  ASSERT_TRUE(decode_put_metric_data_query(body, fast));
  EXPECT_TRUE(fast == expected) << describe(fast);
  std::string error;
  auto generic = run_generic(body, error);
  ASSERT_TRUE(generic) << error;
  EXPECT_TRUE(*generic == expected) << describe(*generic);
  check_fast(body);

  // Reused over a bigger previous call: nothing of it survives.
  PutMetricDataInput big;
  ASSERT_TRUE(decode_put_metric_data_query(batch(50), big));
  ASSERT_TRUE(decode_put_metric_data_query(body, big));
  EXPECT_TRUE(big == expected) << describe(big);
  // Namespace alone (the handler answers MissingParameter): MetricData absent, not empty.
  ASSERT_TRUE(decode_put_metric_data_query("Action=PutMetricData&Version=2010-08-01&Namespace=x", big));
  EXPECT_EQ(big.namespace_, "x");
  EXPECT_FALSE(big.metric_data);
  ASSERT_TRUE(decode_put_metric_data_query("Action=PutMetricData&Version=2010-08-01&Namespace=x&MetricData=", big));
  ASSERT_TRUE(big.metric_data);
  EXPECT_TRUE(big.metric_data->empty());
}

TEST_F(PutMetricDataQueryFastPathTest, ValidRequestsTakeTheFastPath) {
  check_fast(one({{"Value", "1"}}));
  check_fast(one({}));  // no value at all: the handler's error, not the model's
  check_fast(request({}));
  check_fast(request({{"MetricData", ""}}));
  check_fast("Namespace=ns&MetricData.member.1.MetricName=m");  // no Action/Version (the dispatcher found them in the URL)
  check_fast("MetricData.member.1.Value=1&Version=2010-08-01&MetricData.member.1.MetricName=m&Namespace=ns&Action=PutMetricData");
  check_fast("&&Action=PutMetricData&&Namespace=ns&&&MetricData.member.1.MetricName=m&");  // empty parts are skipped
  check_fast("Action&Version&Namespace=ns");                   // names without '=' (empty values)
  check_fast("Action=PutMetricData&Version=x&Action=Other&Namespace=ns&MetricData");  // Action/Version: whatever they say
  check_fast(one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "b"}, {"Timestamp", "2026-12-06T14:00:00Z"}, {"Value", "1.5"},
                  {"Unit", "Bytes/Second"}, {"StorageResolution", "1"}}));
  check_fast(one({{"Value", "1"}}) + "&StrictEntityValidation=true");
  check_fast(one({{"Value", "1"}}) + "&StrictEntityValidation=false");
  check_fast(one({{"Value", "1"}}) + "&StrictEntityValidation=TRUE");
  check_fast("StrictEntityValidation=False&Namespace=ns");
  // Members in any order within a datum and a dimension, Namespace anywhere.
  check_fast("MetricData.member.1.Value=1&MetricData.member.1.Dimensions.member.1.Value=v&MetricData.member.1.MetricName=m&MetricData."
             "member.1.Dimensions.member.1.Name=n&MetricData.member.2.Unit=Count&MetricData.member.2.MetricName=m2&Namespace=ns");
  check_fast("MetricData.member.1.Dimensions.member.1.Name=n&MetricData.member.1.Values.member.1=1&MetricData.member.1.Dimensions."
             "member.1.Value=v&MetricData.member.1.Counts.member.1=2&MetricData.member.1.Values.member.2=3&MetricData.member.1."
             "MetricName=m&Namespace=ns");
  // Values / Counts / StatisticValues, empty lists, and the handler-level conflicts the model allows.
  check_fast(one({{"Values.member.1", "1"}, {"Values.member.2", "2"}, {"Values.member.3", "3.5"}, {"Counts.member.1", "1"}, {"Counts.member.2", "2"},
                  {"Counts.member.3", "3"}}));
  check_fast(one({{"Values.member.1", "1"}, {"Values.member.2", "2"}, {"Counts.member.1", "1"}}));
  check_fast(one({{"Counts.member.1", "1"}}));
  check_fast(one({{"Values", ""}}));
  check_fast(one({{"Values", ""}, {"Counts", ""}, {"Dimensions", ""}}));
  check_fast(one({{"StatisticValues.SampleCount", "2"}, {"StatisticValues.Sum", "3"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "2"}}));
  check_fast(one({{"StatisticValues.Maximum", "2.5"}, {"StatisticValues.Minimum", "-1e-3"}, {"StatisticValues.Sum", "1E2"},
                  {"StatisticValues.SampleCount", "0"}}));
  check_fast(one({{"Value", "1"}, {"StatisticValues.SampleCount", "2"}, {"StatisticValues.Sum", "3"}, {"StatisticValues.Minimum", "1"},
                  {"StatisticValues.Maximum", "2"}, {"Values.member.1", "1"}}));
  for (const char* unit : kUnits) check_fast(one({{"Value", "1"}, {"Unit", unit}}));
  check_fast(one({{"Value", "1"}}) + "&MetricData.member.1.Unit=Bytes/Second");  // '/' not encoded
  check_fast(one({{"Value", "1"}}) + "&MetricData.member.1.Unit=%42ytes%2fSecond");
  // Timestamps: what botocore writes (seconds, microseconds, milliseconds), and other forms
  // the generic parser takes (epoch seconds, offsets, rfc822), decoded by the same parser.
  for (const char* t : {"2026-12-06T14:00:00Z", "2026-12-06T14:00:00.123456Z", "2026-12-06T14:00:00.123Z", "2026-12-06T14:00:00.5Z",
                        "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999999999Z",
                        "2024-02-29T12:00:00Z", "2023-02-31T12:00:00Z", "2026-12-31T23:59:60Z", "2026-12-06T14:00:00.000000000000001Z",
                        "1700000000", "1700000000.5", "-1", "0", "1.7e9", "2026-12-06T14:00:00+01:00", "2026-12-06T14:00:00.5-02:30",
                        "2026-12-06t14:00:00z", "2026-12-06 14:00:00Z", "2026-12-06", "2026-12-06T14:00:00", "2026-12-06T14:00:00.Z",
                        "Sun, 06 Dec 2026 14:00:00 GMT", "2026-12-06T14:00:00.1234567890123456Z"})
    check_fast(one({{"Value", "1"}, {"Timestamp", t}}));
  // Numbers for doubles: what Python's repr writes, exponents, extremes, forms strtod takes.
  for (const char* v : {"0", "-0", "-0.0", "0e0", "1", "-1", "1.5", "1e2", "1E+2", "1e-2", "-2.5E-3", "1e-05", "1.5e+20", "0.1", "0.30000000000000004",
                        "123456789012345678", "9223372036854775807", "-9223372036854775808", "18446744073709551615", "1.7976931348623157e+308",
                        "-1.7976931348623157e308", "2.2250738585072014e-308", "5e-324", "4.9e-324", "1e-400", "3.141592653589793238462643383279",
                        "9007199254740993", "9007199254740992", "1e22", "1e23", "123e-22", "123e-23", ".5", "5.", "-.5", "+1", " 1", "0x10",
                        "1e0000000000000000000001", "00001.5", "Infinity", "-Infinity"})
    check_fast(one({{"Value", v},
                    {"Values.member.1", v},
                    {"Counts.member.1", v},
                    {"StatisticValues.SampleCount", v},
                    {"StatisticValues.Sum", v},
                    {"StatisticValues.Minimum", v},
                    {"StatisticValues.Maximum", v}}));
  for (const char* r : {"1", "5", "60", "2147483647", "+60", "060", "0000000001"}) check_fast(one({{"Value", "1"}, {"StorageResolution", r}}));
  // Unicode, spaces, reserved characters in names and dimensions.
  check_fast(one({{"Value", "1"},
                  {"Dimensions.member.1.Name", "h\xc3\xa9llo \"q\" \\ / & = + % ? # \n\t\r"},
                  {"Dimensions.member.1.Value", "\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x9c\x93 %41 + ~"}}));
  check_fast(request(datum(1, {{"MetricName", "\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80"}, {"Value", "1"}})));
  for (const char* ns : {"\xc3\xa9/ns", "\xc3\xa9", "a:b", "a:", "\n:", " ", "\xf0\x9f\x98\x80:", "AWS/EC2", "a+b&c=d"})
    check_fast(one({{"Value", "1"}}, ns));
  check_fast(one({{"Value", "1"}}, std::string(1, '\0')));
  check_fast("Namespace=a%zz%4&MetricData.member.1.MetricName=%&MetricData.member.1.Dimensions.member.1.Name=%%41&MetricData.member.1."
             "Dimensions.member.1.Value=100%");  // '%' not followed by two hex digits stays
  check_fast("Namespace=a=b=c&MetricData.member.1.MetricName=x==");  // a value keeps its '='
  // Limits, just inside (characters, not bytes).
  check_fast(one({{"Value", "1"}}, std::string(255, 'n')));
  check_fast(one({{"Value", "1"}}, [] {
    std::string s;
    for (int i = 0; i < 255; ++i) s += "\xf0\x9f\x98\x80";
    return s;
  }()));
  check_fast(request(datum(1, {{"MetricName", std::string(255, 'm')}})));
  check_fast(one(dims_of(30)));
  check_fast(one({{"Dimensions.member.1.Name", std::string(255, 'k')}, {"Dimensions.member.1.Value", std::string(1024, 'v')}}));
  {
    std::string name, value;
    for (int i = 0; i < 255; ++i) name += "\xc3\xa9";
    for (int i = 0; i < 1024; ++i) value += "\xe2\x9c\x93";
    check_fast(one({{"Dimensions.member.1.Name", name}, {"Dimensions.member.1.Value", value}}));
  }
  check_fast(one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "1"}, {"Dimensions.member.2.Name", "a"},
                  {"Dimensions.member.2.Value", "2"}}));  // the handler's error
  // Big calls: the benchmark's 1 000 datums, 30 dimensions each, long Values lists.
  check_fast(batch(1));
  check_fast(batch(1000));
  check_fast(batch(3000));
  {
    Params data;
    for (int i = 1; i <= 1000; ++i)
      data += datum(i, Params{{"MetricName", "m" + std::to_string(i)}} + dims_of(30, "dim", "value-" + std::to_string(i)) +
                                 Params{{"Values.member.1", "1"}, {"Values.member.2", "2"}, {"Counts.member.1", "3"}, {"Counts.member.2", "1"}});
    check_fast(request(data));
  }
  {
    Params values;
    for (int i = 1; i <= 5000; ++i) {
      std::string v = std::to_string(i) + "." + std::to_string(i % 7);
      values.emplace_back("Values.member." + std::to_string(i), v);
      values.emplace_back("Counts.member." + std::to_string(i), v);
    }
    check_fast(one(values));
  }
  // Shrinking and growing calls over the reused input (a 1 000-datum call left it big).
  check_fast(batch(2));
  check_fast(one({{"Values.member.1", "1"}}));
  check_fast(batch(1000));
  check_fast(one({{"Value", "1"}}));
  std::printf("[ info     ] %zu bodies checked\n", checked_);
}

TEST_F(PutMetricDataQueryFastPathTest, BrokenConstraintsAndTypesAreDeclined) {
  const Params ok = {{"Value", "1"}};
  std::vector<std::string> rejected = {
      // Namespace: required, 1-255 characters, pattern [^:].*.
      "", "MetricData.member.1.MetricName=m", "Namespace=", "Namespace", one(ok, ""), one(ok, std::string(256, 'n')), one(ok, ":"), one(ok, ":a"),
      "Namespace=%3Ans", "Namespace.x=1&MetricData.member.1.MetricName=m",
      // Datums: MetricName required, 1-255 characters.
      request(datum(1, ok)), request(datum(1, {{"MetricName", ""}})), request(datum(1, {{"MetricName", std::string(256, 'm')}})),
      "Namespace=ns&MetricData.member.1=m", "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.2.Value=1",
      "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.2.Dimensions=",
      // List indices the generic path refuses: 0, signs, huge, empty, not numbers.
      "Namespace=ns&MetricData.member.0.MetricName=m", "Namespace=ns&MetricData.member.-1.MetricName=m",
      "Namespace=ns&MetricData.member.+1.MetricName=m", "Namespace=ns&MetricData.member.4294967296.MetricName=m",
      "Namespace=ns&MetricData.member..MetricName=m", "Namespace=ns&MetricData.member.x.MetricName=m",
      "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.1.Values.member.0=1",
      "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions.member.a.Name=n",
      // Dimensions: at most 30, Name 1-255 and Value 1-1024 both required.
      one(dims_of(31)), one({{"Dimensions.member.1.Name", "a"}}), one({{"Dimensions.member.1.Value", "a"}}),
      one({{"Dimensions.member.1.Name", ""}, {"Dimensions.member.1.Value", "v"}}), one({{"Dimensions.member.1.Name", "n"}, {"Dimensions.member.1.Value", ""}}),
      one({{"Dimensions.member.1.Name", std::string(256, 'k')}, {"Dimensions.member.1.Value", "v"}}),
      one({{"Dimensions.member.1.Name", "n"}, {"Dimensions.member.1.Value", std::string(1025, 'v')}}),
      one({{"Dimensions.member.1", "x"}}), one({{"Dimensions.member.1.Other", "x"}}),
      one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "b"}, {"Dimensions.member.3.Name", "c"}}),
      // StatisticValues: all four required, doubles.
      one({{"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "1"}}),
      one({{"StatisticValues.SampleCount", "1"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "1"}}),
      one({{"StatisticValues.SampleCount", "1"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Maximum", "1"}}),
      one({{"StatisticValues.SampleCount", "1"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"}}), one({{"StatisticValues", ""}}),
      one({{"StatisticValues.Other", "1"}}),
      one({{"StatisticValues.SampleCount", "x"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "1"}}),
      // Numbers the generic parser refuses.
      one({{"Value", ""}}), one({{"Value", "x"}}), one({{"Value", "1x"}}), one({{"Value", "nan"}}), one({{"Value", "inf"}}), one({{"Value", "1e400"}}),
      one({{"Value", "-1e400"}}), one({{"Value", "1e"}}), one({{"Value", "1e+"}}), one({{"Value", "."}}), one({{"Value", "-"}}), one({{"Value", "1 "}}),
      one({{"Value", "1,5"}}), one({{"Value", "1.5.5"}}), one({{"Value", std::string(1, '\0')}}), one({{"Value", std::string("1\0", 2)}}),
      one({{"Value", "0." + std::string(400, '1')}}), one({{"Values.member.1", ""}}), one({{"Counts.member.1", "x"}}),
      one({{"Values.member.1", "1"}, {"Values.member.2", "NaNx"}}),
      // Timestamps the generic parser refuses.
      one({{"Timestamp", ""}}), one({{"Timestamp", "yesterday"}}), one({{"Timestamp", "2026-13-06T14:00:00Z"}}), one({{"Timestamp", "2026-12-00T14:00:00Z"}}),
      one({{"Timestamp", "2026-12-32T14:00:00Z"}}), one({{"Timestamp", "2026-12-06T24:00:00Z"}}), one({{"Timestamp", "2026-12-06T14:60:00Z"}}),
      one({{"Timestamp", "2026-12-06T14:00:61Z"}}), one({{"Timestamp", "2026-12-06T14:00:00ZZ"}}), one({{"Timestamp", "2026-12-06T14:00Z"}}),
      one({{"Timestamp", "2026-12-06T14:00:00.123456Z" + std::string(60, '0')}}), one({{"Timestamp", "inf"}}), one({{"Timestamp", "1e400"}}),
      // Unit: the enum, exactly.
      one({{"Unit", "count"}}), one({{"Unit", "Counts"}}), one({{"Unit", ""}}), one({{"Unit", "Count "}}), one({{"Unit", std::string("Count\0", 6)}}),
      // StorageResolution: an int32, min 1.
      one({{"StorageResolution", "0"}}), one({{"StorageResolution", "-1"}}), one({{"StorageResolution", "+-1"}}), one({{"StorageResolution", "1.0"}}),
      one({{"StorageResolution", "0.5"}}), one({{"StorageResolution", "2147483648"}}), one({{"StorageResolution", "9223372036854775808"}}),
      one({{"StorageResolution", ""}}), one({{"StorageResolution", " 1"}}), one({{"StorageResolution", "1e1"}}), one({{"StorageResolution", "+"}}),
      // StrictEntityValidation: a boolean. EntityMetricData: its own constraints.
      one(ok) + "&StrictEntityValidation=yes", one(ok) + "&StrictEntityValidation=", one(ok) + "&StrictEntityValidation=1",
      one(ok) + "&EntityMetricData.member.1.Entity.KeyAttributes.entry.1.key=a&EntityMetricData.member.1.Entity.KeyAttributes.entry.1.value=b",
      one(ok) + "&EntityMetricData.member.1.MetricData.member.1.Value=1",
      // A later duplicate that breaks a constraint (the generic path keeps the last).
      one(ok) + "&Namespace=", one(ok) + "&MetricData.member.1.MetricName=", one(ok) + "&MetricData.member.1.Value=x",
      one(ok) + "&MetricData.member.1.Unit=Count&MetricData.member.1.Unit=bad",
  };
  for (const auto& body : rejected) check_rejected(body);

  // Odd, possibly accepted by the generic path (index gaps and disorder, duplicates, leading
  // zeros, values on structures, unknown parameters, encoded names, `List=x`, NaN, invalid
  // UTF-8, EntityMetricData): the decoder may decline, but if it takes one it must agree.
  std::vector<std::string> odd = {
      // Index order, gaps, duplicates, leading zeros.
      "Namespace=ns&MetricData.member.2.MetricName=b&MetricData.member.1.MetricName=a",
      "Namespace=ns&MetricData.member.1.MetricName=a&MetricData.member.3.MetricName=c",
      "Namespace=ns&MetricData.member.2.MetricName=b", "Namespace=ns&MetricData.member.10.MetricName=j&MetricData.member.9.MetricName=i",
      "Namespace=ns&MetricData.member.1.MetricName=a&MetricData.member.2.MetricName=b&MetricData.member.1.Value=1",
      "Namespace=ns&MetricData.member.01.MetricName=a", "Namespace=ns&MetricData.member.1.MetricName=a&MetricData.member.01.MetricName=b",
      "Namespace=ns&MetricData.member.1.MetricName=a&MetricData.member.1.MetricName=b",
      "Namespace=a&Namespace=b&MetricData.member.1.MetricName=m", "Namespace=ns&Namespace=&Namespace=c",
      "Namespace=ns&MetricData.member.4294967295.MetricName=m", "Namespace=ns&MetricData.member.1000000000.MetricName=m",
      one({{"Values.member.2", "2"}, {"Values.member.1", "1"}}), one({{"Values.member.1", "1"}, {"Values.member.3", "3"}}),
      one({{"Values.member.1", "1"}, {"Values.member.1", "2"}}), one({{"Values.member.01", "1"}}), one({{"Values.member.1", "1"}, {"Values.member.01", "2"}}),
      one({{"Dimensions.member.2.Name", "b"}, {"Dimensions.member.2.Value", "2"}, {"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "1"}}),
      one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.2.Name", "b"}, {"Dimensions.member.1.Value", "1"}, {"Dimensions.member.2.Value", "2"}}),
      one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Name", "b"}, {"Dimensions.member.1.Value", "1"}}),
      one(dims_of(29) + Params{{"Dimensions.member.31.Name", "x"}, {"Dimensions.member.31.Value", "y"}}),
      one({{"Value", "1"}, {"Value", "2"}}), one({{"Timestamp", "1"}, {"Timestamp", "2"}}), one({{"Unit", "Count"}, {"Unit", "None"}}),
      one({{"StorageResolution", "1"}, {"StorageResolution", "60"}}),
      one({{"StatisticValues.SampleCount", "1"}, {"StatisticValues.SampleCount", "2"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"},
           {"StatisticValues.Maximum", "1"}}),
      one({{"Value", "1"}}) + "&StrictEntityValidation=true&StrictEntityValidation=false",
      // Empty lists with a value, or with items; values on structures and lists.
      request({{"MetricData", "x"}}), request({{"MetricData", ""}, {"MetricData", ""}}), request(Params{{"MetricData", ""}} + datum(1, {{"MetricName", "m"}})),
      request(datum(1, {{"MetricName", "m"}}) + Params{{"MetricData", ""}}), request({{"MetricData.member", ""}}), request({{"MetricData.member", "x"}}),
      request({{"MetricData.member.1", "x"}}) + "&MetricData.member.1.MetricName=m", one({{"Values", "x"}}), one({{"Values", ""}, {"Values", ""}}),
      one({{"Values", ""}, {"Values.member.1", "1"}}), one({{"Values.member.1", "1"}, {"Values", ""}}), one({{"Values.member", ""}}),
      one({{"Dimensions", "x"}}), one({{"Dimensions", ""}, {"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "b"}}),
      one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "b"}, {"Dimensions", ""}}), one({{"Counts", ""}, {"Counts", ""}}),
      one({{"StatisticValues", "x"}, {"StatisticValues.SampleCount", "1"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"},
           {"StatisticValues.Maximum", "1"}}),
      one({{"Value", "1"}, {"Value.x", "2"}}), one({{"Values.member.1", "1"}, {"Values.member.1.x", "2"}}), one({{"Values.member.1.x", "2"}}),
      "Namespace=ns&Namespace.x=1", "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.1.MetricName.x=1",
      // Unknown parameters, encoded or odd names, deep names.
      one({{"Value", "1"}}) + "&Unknown=1", one({{"Value", "1"}}) + "&MetricData.member.1.Other=1", one({{"Value", "1"}}) + "&=x",
      one({{"Value", "1"}}) + "&Action.x=1", one({{"Value", "1"}}) + "&namespace=x", one({{"Value", "1"}}) + "&" + std::string(70, '.') + "=x",
      one({{"Value", "1"}}) + "&MetricData" + std::string(70, '.') + "=x", "Namespac%65=ns&MetricData.member.1.MetricName=m",
      "Namespace=ns&MetricData%2Emember%2E1%2EMetricName=m", "Namespace=ns&MetricData.member.1.MetricNam%65=m&MetricData.member.1.MetricName=x",
      "Namespace=ns&MetricData.member.1.Metric+Name=m&MetricData.member.1.MetricName=m", "Namespace=ns&Act%69on=X&MetricData.member.1.MetricName=m",
      "%4Eamespace=ns", "Namespace=ns&MetricData.member.%31.MetricName=m", "Namespace=ns&MetricData..member.1.MetricName=m",
      "Namespace=ns&MetricData.member.1..MetricName=m", "Namespace=ns&MetricData.member.1.MetricName.=m",
      // NaN, invalid UTF-8, EntityMetricData.
      one({{"Value", "NaN"}}), one({{"Values.member.1", "NaN"}}),
      one({{"StatisticValues.SampleCount", "NaN"}, {"StatisticValues.Sum", "1"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "1"}}),
      one({{"Value", "1"}}, "bad \xff utf8"), one({{"Value", "1"}}, "\xc3"), request(datum(1, {{"MetricName", "\xed\xa0\x80"}})),
      one({{"Dimensions.member.1.Name", "\xc0\xaf"}, {"Dimensions.member.1.Value", "v"}}),
      one({{"Dimensions.member.1.Name", "n"}, {"Dimensions.member.1.Value", "\xf8\x88\x80\x80\x80"}}), one({{"Value", "1"}}) + "&EntityMetricData=",
      one({{"Value", "1"}}) + "&EntityMetricData.member.1.Entity.KeyAttributes.entry.1.key=Type&EntityMetricData.member.1.Entity.KeyAttributes."
                              "entry.1.value=Service&EntityMetricData.member.1.Entity.KeyAttributes.entry.2.key=Name&EntityMetricData.member.1."
                              "Entity.KeyAttributes.entry.2.value=a&EntityMetricData.member.1.MetricData.member.1.MetricName=m",
  };
  for (const auto& body : odd) check(body);
  std::printf("[ info     ] %zu rejected + %zu odd bodies checked\n", rejected.size(), odd.size());
}

// The canonical timestamps botocore writes are computed by the decoder itself: against the
// generic parser on random dates (every year 0000-9999, day 29-31 of every month, second 60,
// 0-15 fraction digits).
TEST_F(PutMetricDataQueryFastPathTest, TimestampsMatchTheGenericParser) {
  std::mt19937 rng(1234);
  const int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    char buf[64];
    int year = int(rng() % 10000), month = 1 + int(rng() % 12), day = rng() % 4 ? 1 + int(rng() % 28) : 29 + int(rng() % 3);
    int hour = int(rng() % 24), minute = int(rng() % 60), second = rng() % 10 ? int(rng() % 60) : 60;
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second);
    std::string t = buf;
    int fraction_digits = rng() % 3 ? 0 : int(rng() % 16);
    if (rng() % 2) fraction_digits = 6;  // botocore: microseconds
    if (fraction_digits) {
      t += '.';
      for (int i = 0; i < fraction_digits; ++i) t += char('0' + rng() % 10);
    }
    t += 'Z';
    check_fast(one({{"Value", "1"}, {"Timestamp", t}}));
  }
  std::printf("[ info     ] %zu bodies checked\n", checked_);
}

// Doubles the decoder computes itself (Python's repr of random doubles, short decimals) or
// hands to the generic parser (long ones), against the generic path.
TEST_F(PutMetricDataQueryFastPathTest, NumbersMatchTheGenericParser) {
  std::mt19937_64 rng(99);
  const int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    std::string v;
    switch (round % 5) {
      case 0: {  // any finite double, shortest round-trip (repr)
        double d;
        do {
          uint64_t bits = rng();
          std::memcpy(&d, &bits, sizeof d);
        } while (!std::isfinite(d));
        v = shortest(d);
        break;
      }
      case 1: v = shortest(double(int64_t(rng() % 2000000) - 1000000) / 100.0); break;  // metrics-like values
      case 2: v = shortest_text(std::ldexp(double(rng() % (uint64_t(1) << 53)), int(rng() % 200) - 100)); break;
      case 3: {  // random decimal text: digits, a point, an exponent
        int digits = 1 + int(rng() % 22);
        if (rng() % 2) v += '-';
        for (int i = 0; i < digits; ++i) v += char('0' + rng() % 10);
        if (rng() % 2) v.insert(v.size() - rng() % digits, ".");
        if (rng() % 2) v += (rng() % 2 ? "e" : "E") + std::string(rng() % 3 ? "" : (rng() % 2 ? "+" : "-")) + std::to_string(rng() % 40);
        break;
      }
      default: v = shortest(double(rng() % 100000) * std::pow(10.0, double(int(rng() % 60) - 30))); break;
    }
    Result r = check(one({{"Value", v}, {"Values.member.1", v}}));
    EXPECT_TRUE(r.fast) << v;
  }
  std::printf("[ info     ] %zu bodies checked\n", checked_);
}

// Random edits of valid bodies (deterministic): whatever the decoder takes, the generic path
// takes identically.
TEST_F(PutMetricDataQueryFastPathTest, RandomMutationsAgree) {
  const std::vector<std::string> seeds = {
      one({{"Dimensions.member.1.Name", "a"}, {"Dimensions.member.1.Value", "b c"}, {"Dimensions.member.2.Name", "\xc3\xa9"},
           {"Dimensions.member.2.Value", "x"}, {"Timestamp", "2026-12-06T14:00:00.5Z"}, {"Value", "1.5"}, {"Unit", "Count"}, {"StorageResolution", "1"}}),
      one({{"Values.member.1", "1"}, {"Values.member.2", "2.5"}, {"Values.member.3", "-3e2"}, {"Counts.member.1", "1"}, {"Counts.member.2", "2"},
           {"Counts.member.3", "3"}, {"Timestamp", "1700000000"}}),
      one({{"StatisticValues.SampleCount", "2"}, {"StatisticValues.Sum", "3"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Maximum", "2"},
           {"Unit", "Bytes/Second"}}),
      one({{"Value", "1"}, {"Dimensions", ""}, {"Values", ""}}) + "&StrictEntityValidation=true",
      batch(3),
  };
  const std::string alphabet = "&=%+.0123456789AaEeFfZT:-/ \xc3\xa9\xffmember";
  const std::vector<std::string> tokens = {"&",  "=",     "%",          "%2",    "%3A",          "%2B", "+",      ".member.", ".1",
                                           ".0", ".01",   ".2",         ".31",   "&Namespace=x", "NaN", "1e400", "&MetricData=",
                                           "&MetricData.member.1.Value=1", "&MetricData.member.2.MetricName=m", "&MetricData.member.1.Dimensions=",
                                           "&MetricData.member.1.Values.member.1=1", "Values", "Counts", "Dimensions", "StatisticValues.Sum",
                                           "&Action=x", "&EntityMetricData=", "&StrictEntityValidation=true"};
  std::mt19937 rng(20240611);
  size_t fast = 0;
  const int kRounds = 5000;
  for (int round = 0; round < kRounds; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: body.insert(body.begin() + long(at), alphabet[rng() % alphabet.size()]); break;
        case 2: body.insert(at, tokens[rng() % tokens.size()]); break;
        default: body.erase(at, 1 + rng() % 4); break;
      }
    }
    fast += check(body).fast;
  }
  std::printf("[ info     ] %d mutated bodies, %zu taken by the fast decoder\n", kRounds, fast);
  EXPECT_GT(fast, size_t(kRounds / 40));  // some mutations still reach acceptance (about 4%)
}

// Random requests assembled from valid and broken member values (deterministic), members and
// datums in random order now and then, with the odd duplicate, gap, renumbering or unknown
// parameter: reaches every member's edge in combination.
TEST_F(PutMetricDataQueryFastPathTest, RandomCompositionsAgree) {
  struct Pool {
    std::vector<Params> good, bad;
  };
  const std::vector<Pool> pools = {
      {{{{"MetricName", "m"}}, {{"MetricName", "\xc3\xa9 x"}}, {{"MetricName", std::string(255, 'm')}}},
       {{{"MetricName", ""}}, {{"MetricName", std::string(256, 'm')}}, {{"MetricName", "\xff"}}}},
      {{{{"Dimensions", ""}}, dims_of(1), dims_of(3, "k", "a b"), dims_of(30), {{"Dimensions.member.1.Value", "v"}, {"Dimensions.member.1.Name", "n"}}},
       {dims_of(31), {{"Dimensions.member.1.Name", "a"}}, {{"Dimensions.member.1.Name", ""}, {"Dimensions.member.1.Value", "v"}},
        {{"Dimensions", "x"}}, {{"Dimensions.member.0.Name", "a"}, {"Dimensions.member.0.Value", "b"}}}},
      {{{{"Timestamp", "2026-12-06T14:00:00Z"}}, {{"Timestamp", "2026-12-06T14:00:00.123456Z"}}, {{"Timestamp", "1700000000.25"}}},
       {{{"Timestamp", "2026-12-06"}}, {{"Timestamp", "x"}}, {{"Timestamp", ""}}, {{"Timestamp", "2026-12-06T14:00:00+01:00"}}}},
      {{{{"Value", "1"}}, {{"Value", "-2.5"}}, {{"Value", "1e300"}}, {{"Value", "-0"}}, {{"Value", "0.30000000000000004"}}},
       {{{"Value", "NaN"}}, {{"Value", "x"}}, {{"Value", ""}}, {{"Value", "Infinity"}}}},
      {{{{"StatisticValues.SampleCount", "1"}, {"StatisticValues.Sum", "2"}, {"StatisticValues.Minimum", "0"}, {"StatisticValues.Maximum", "2"}},
        {{"StatisticValues.Maximum", "1"}, {"StatisticValues.Minimum", "1"}, {"StatisticValues.Sum", "1.5"}, {"StatisticValues.SampleCount", "1e0"}}},
       {{{"StatisticValues.SampleCount", "1"}}, {{"StatisticValues", ""}},
        {{"StatisticValues.SampleCount", "1"}, {"StatisticValues.Sum", "2"}, {"StatisticValues.Minimum", "0"}, {"StatisticValues.Maximum", "x"}}}},
      {{{{"Values", ""}}, {{"Values.member.1", "1"}}, {{"Values.member.1", "1"}, {"Values.member.2", "2.5"}, {"Values.member.3", "3e3"}}},
       {{{"Values.member.1", ""}}, {{"Values.member.2", "1"}}, {{"Values", "x"}}, {{"Values.member.1", "1"}, {"Values.member.1", "2"}}}},
      {{{{"Counts", ""}}, {{"Counts.member.1", "1"}}, {{"Counts.member.1", "0"}, {"Counts.member.2", "2"}}},
       {{{"Counts.member.1", "true"}}, {{"Counts.member.02", "1"}}}},
      {{{{"Unit", "Count"}}, {{"Unit", "None"}}, {{"Unit", "Bytes/Second"}}}, {{{"Unit", "count"}}, {{"Unit", ""}}}},
      {{{{"StorageResolution", "1"}}, {{"StorageResolution", "60"}}, {{"StorageResolution", "2147483647"}}},
       {{{"StorageResolution", "0"}}, {{"StorageResolution", "-1"}}, {{"StorageResolution", "1.0"}}, {{"StorageResolution", "2147483648"}}}},
  };
  const std::vector<std::string> namespaces = {"ns", "a:b", "\xc3\xa9", std::string(255, 'n'), "", ":a", std::string(256, 'n')};
  std::mt19937 rng(7);
  size_t fast = 0, generic = 0;
  const int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    Params params;
    if (rng() % 3) params = {{"Action", "PutMetricData"}, {"Version", "2010-08-01"}};
    if (rng() % 20) params.emplace_back("Namespace", rng() % 5 ? namespaces[rng() % 4] : namespaces[rng() % namespaces.size()]);
    if (rng() % 10) {
      int n = int(rng() % 4);
      if (n == 0 && rng() % 2) params.emplace_back("MetricData", "");
      for (int i = 1; i <= n; ++i) {
        Params members;
        for (size_t p = 0; p < pools.size(); ++p) {
          bool include = p == 0 ? rng() % 20 != 0 : rng() % 3 == 0;
          if (!include) continue;
          const Pool& pool = pools[p];
          const Params& chosen = rng() % 12 ? pool.good[rng() % pool.good.size()] : pool.bad[rng() % pool.bad.size()];
          members += chosen;
          if (rng() % 40 == 0) members += pool.good[rng() % pool.good.size()];  // a duplicate
        }
        if (rng() % 40 == 0) members.emplace_back("Other", "1");
        if (rng() % 10 == 0) {
          for (size_t k = members.size(); k > 1; --k) std::swap(members[k - 1], members[rng() % k]);
        }
        int index = i;
        if (rng() % 40 == 0) index = int(rng() % 4);  // a gap, a repeat or 0
        params += datum(index, members);
      }
    }
    if (rng() % 10 == 0) params.emplace_back("StrictEntityValidation", rng() % 2 ? "true" : "false");
    if (rng() % 30 == 0) params.emplace_back("EntityMetricData", "");
    if (rng() % 30 == 0) params.emplace_back("Unknown", "x");
    if (rng() % 15 == 0) {
      for (size_t k = params.size(); k > 1; --k) std::swap(params[k - 1], params[rng() % k]);
    }
    Result r = check(urlencode(params));
    fast += r.fast;
    generic += r.generic;
  }
  std::printf("[ info     ] %d composed bodies: %zu valid, %zu taken by the fast decoder\n", kRounds, generic, fast);
  EXPECT_GT(fast, size_t(kRounds / 4));
}

// Not a benchmark (the unit tests may run under sanitizers): the order of magnitude, printed.
TEST_F(PutMetricDataQueryFastPathTest, BenchmarkBodyTiming) {
  const std::string body = batch(1000);
  PutMetricDataInput input;
  ASSERT_TRUE(decode_put_metric_data_query(body, input));
  // The best of a few rounds: the machine is shared.
  const int kRounds = std::getenv("PMDQ_RUNS") ? std::atoi(std::getenv("PMDQ_RUNS")) : 5;
  double fast_us = 1e18;
  for (int round = 0; round < kRounds; ++round) {
    auto round_start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(decode_put_metric_data_query(body, input));
    fast_us = std::min(fast_us, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - round_start).count() / 5);
  }
  auto start = std::chrono::steady_clock::now();
  std::string error;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run_generic(body, error)) << error;
  double generic_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / 3;
  std::printf("[ info     ] %zu-byte body of 1000 datums: fast %.0f us, generic %.0f us per call\n", body.size(), fast_us, generic_us);
}

// ---- QueryCodec::resolve_operation ---------------------------------------------------------

// The version resolve_operation replaced: every parameter decoded, the last Action wins.
std::string reference_action(const HttpRequest& request) {
  const std::string* action = nullptr;
  protocol::FormParams params = protocol::QueryCodec::request_params(request);
  for (const auto& p : params)
    if (p.first == "Action") action = &p.second;
  return action ? *action : std::string();
}

class PutMetricDataQueryResolveOperationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = protocol::embedded_model("cloudwatch");
    ASSERT_NE(model_, nullptr);
    codec_ = std::make_unique<protocol::QueryCodec>(*model_);
  }

  // resolve_operation's answer: the operation's name, or the error's code and message.
  std::string resolve(const HttpRequest& r) const {
    try {
      return "op " + codec_->resolve_operation(r).name;
    } catch (const AwsError& e) {
      return "error " + e.code() + ": " + e.message();
    }
  }
  // What the list-building version answered.
  std::string expected(const HttpRequest& r) const {
    std::string action = reference_action(r);
    if (action.empty()) return "error MissingAction: Missing Action";
    const protocol::Operation* op = model_->operation(action);
    if (!op) {  // through AwsError, as resolve_operation's (its message ends at a NUL byte)
      return "error InvalidAction: " +
             AwsError("InvalidAction", "Could not find operation " + action.substr(0, 128) + " for version " + model_->api_version).message();
    }
    return "op " + op->name;
  }

  void agree(const std::string& query, const std::string& body, const std::string& content_type = "application/x-www-form-urlencoded") {
    HttpRequest r;
    r.method = body.empty() ? "GET" : "POST";
    r.path = "/";
    r.query = query;
    if (!content_type.empty()) r.headers = {{"content-type", content_type}};
    r.body = body;
    EXPECT_EQ(resolve(r), expected(r)) << "query: " << query << "\nbody: " << body << "\ncontent-type: " << content_type;
    ++checked_;
  }

  const protocol::ServiceModel* model_ = nullptr;
  std::unique_ptr<protocol::QueryCodec> codec_;
  size_t checked_ = 0;
};

TEST_F(PutMetricDataQueryResolveOperationTest, SameAnswerAsBuildingTheParameterList) {
  const std::vector<std::string> forms = {
      "", "Action=PutMetricData", "Action=ListMetrics&Version=2010-08-01", "Version=2010-08-01", "Action=", "Action", "&Action&",
      "Action=PutMetricData&Action=ListMetrics", "Action=ListMetrics&Action=", "Action=ListMetrics&Action", "Act%69on=ListMetrics",
      "%41ction=ListMetrics", "%41%63%74%69%6f%6e=ListMetrics", "%41%63%74%69%6F%6E=ListMetrics", "Action=List%4Detrics", "Action=List+Metrics",
      "Action=%20", "Action=+", "Action=Nope", "action=ListMetrics", "ACTION=ListMetrics", "Action =ListMetrics", "Action+=ListMetrics",
      " Action=ListMetrics", "Action%3DListMetrics", "Action%3DListMetrics=x", "Action=ListMetrics=x", "Action==ListMetrics",
      "Actio%6=ListMetrics", "Actio%6E", "Action%", "Action%4", "Action%41=ListMetrics", "Actio%6e=ListMetrics&Action%00=PutMetricData",
      "Action=PutMetricData&Act%69on=ListMetrics&x=1", "Action=ListMetrics&Version=1&Action=%", "Action=%zz", "Action=%4",
      "Action=ListMetrics&&&", "&&&Action=ListMetrics", "=Action", "=&Action=ListMetrics", "Action.x=ListMetrics", "Action=" + std::string(300, 'A'),
      "Action=Describe%41larms&Namespace=ns", std::string("Action=ListMetrics\0&Action=X", 28), std::string("Acti\0n=ListMetrics", 18),
      "Action=PutMetricData&MetricData.member.1.MetricName=m&Action=DescribeAlarms", std::string("Action=List\0Metrics", 19), "Actio+n=ListMetrics", "Action%2B=x", "Act%2Bion=x",
  };
  for (const auto& f : forms) {
    agree(f, "");                      // the query string alone
    agree("", f);                      // a form body alone
    agree(f, "Action=ListMetrics");    // the body's Action comes last
    agree("Action=ListMetrics", f);    // the query's, then the body's (if any)
    agree(f, f, "text/plain");         // a body that is no form: ignored
    agree("", f, "");                  // no content type: a form
    agree(f, "Namespace=x", "application/x-www-form-urlencoded; charset=utf-8");
  }
  // Random short forms over the characters that matter.
  const std::string alphabet = "Action=&%+4169Ee ListMetricsPutDa";
  const std::vector<std::string> tokens = {"Action", "Action=", "ListMetrics", "PutMetricData", "%69", "%41", "%6", "&", "=", "+", "%"};
  std::mt19937 rng(5);
  for (int round = 0; round < 3000; ++round) {
    std::string q, b;
    for (std::string* s : {&q, &b}) {
      int n = int(rng() % 8);
      for (int i = 0; i < n; ++i) {
        if (rng() % 2)
          *s += tokens[rng() % tokens.size()];
        else
          *s += alphabet[rng() % alphabet.size()];
      }
    }
    agree(q, b, rng() % 5 ? "application/x-www-form-urlencoded" : (rng() % 2 ? "" : "application/json"));
  }
  std::printf("[ info     ] %zu requests checked\n", checked_);
}

}  // namespace
}  // namespace vigil::cloudwatch
