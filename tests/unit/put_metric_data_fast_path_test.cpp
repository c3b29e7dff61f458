// PutMetricData's awsJson fast decoder (services/cloudwatch/put_metric_data_decoder) against the
// generic path (JsonCodec::decode_request + validate_input with the embedded cloudwatch model,
// then put_metric_data_input): whatever the decoder accepts, the generic path accepts with the
// identical PutMetricDataInput. Declining is always safe (the server then takes the generic
// path), but every plain request must be taken, or the fast path is not one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "put_metric_data_test_support.h"
#include "services/cloudwatch/put_metric_data_decoder.h"

namespace vigil::cloudwatch {
namespace {

using test_support::describe;
using test_support::number_text;



std::string repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// A request with one datum made of `members` (JSON text without braces).
std::string one(const std::string& members, const std::string& extra = "") {
  return "{\"Namespace\":\"ns\",\"MetricData\":[{" + members + "}]" + extra + "}";
}
const std::string kName = "\"MetricName\":\"m\"";
std::string with_name(const std::string& members) { return one(kName + "," + members); }
std::string with_namespace(const std::string& ns_json) { return "{\"Namespace\":" + ns_json + ",\"MetricData\":[{" + kName + ",\"Value\":1}]}"; }
std::string dims_of(size_t n, const std::string& name_prefix = "d", const std::string& value = "v") {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += std::string(i ? "," : "") + "{\"Name\":\"" + name_prefix + std::to_string(i) + "\",\"Value\":\"" + value + "\"}";
  return out + "]";
}

// What boto3 sends for a batch (the benchmark's shape): float timestamps, a few dimensions.
std::string batch(size_t n) {
  std::string out = "{\"Namespace\":\"Bench/App\",\"MetricData\":[";
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    out += "{\"MetricName\":\"Latency" + std::to_string(i % 17) + "\",\"Dimensions\":[{\"Name\":\"Host\",\"Value\":\"host-" + std::to_string(i % 50) +
           "\"},{\"Name\":\"Service\",\"Value\":\"api\"}],\"Timestamp\":" + std::to_string(1700000000 + int(i)) + ".25,\"Value\":" +
           std::to_string(i) + ".5,\"Unit\":\"Milliseconds\",\"StorageResolution\":" + (i % 2 ? "1" : "60") + "}";
  }
  return out + "]}";
}

class PutMetricDataFastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = protocol::embedded_model("cloudwatch");
    ASSERT_NE(model_, nullptr);
    codec_ = std::make_unique<protocol::JsonCodec>(*model_);
    operation_ = model_->operation("PutMetricData");
    ASSERT_NE(operation_, nullptr);
  }

  // What Dispatcher does on the generic path for an awsJson request, up to the handler's input.
  // Any AwsError (SerializationException, ValidationError) is "the generic path rejects".
  std::optional<PutMetricDataInput> run_generic(const std::string& body, std::string& error) const {
    HttpRequest r;
    r.method = "POST";
    r.path = "/";
    r.headers = {{"x-amz-target", "GraniteServiceVersion20100801.PutMetricData"}, {"content-type", "application/x-amz-json-1.0"}};
    r.body = body;
    try {
      Value input = codec_->decode_request(r, *operation_);
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
    std::string shown = body.size() > 300 ? body.substr(0, 300) + "..." : body;
    PutMetricDataInput fresh;
    Result result;
    result.fast = decode_put_metric_data(body, fresh);
    bool fast_reused = decode_put_metric_data(body, reused());
    EXPECT_EQ(result.fast, fast_reused) << shown;
    if (result.fast && fast_reused) {
      EXPECT_TRUE(fresh == reused()) << shown << "\nfresh: " << describe(fresh) << "\nreused: " << describe(reused());
    }
    std::string error;
    std::optional<PutMetricDataInput> generic = run_generic(body, error);
    result.generic = generic.has_value();
    if (result.fast && !generic) {
      ADD_FAILURE() << "the fast decoder accepted what the generic path rejects (" << error << "): " << shown;
    } else if (result.fast) {
      EXPECT_TRUE(*generic == fresh) << shown << "\ngeneric: " << describe(*generic) << "\nfast: " << describe(fresh);
    }
    ++checked_;
    return result;
  }
  // A plain request: the generic path accepts it and the fast decoder must take it.
  void check_fast(const std::string& body) {
    Result r = check(body);
    EXPECT_TRUE(r.generic) << "not a valid request: " << body.substr(0, 300);
    EXPECT_TRUE(r.fast) << "the fast decoder declined a plain request: " << body.substr(0, 300);
  }
  // A broken constraint or type: the generic path rejects it (so the decoder must decline).
  void check_rejected(const std::string& body) {
    Result r = check(body);
    EXPECT_FALSE(r.generic) << "the generic path accepts: " << body.substr(0, 300);
  }

  const protocol::ServiceModel* model_ = nullptr;
  std::unique_ptr<protocol::JsonCodec> codec_;
  const protocol::Operation* operation_ = nullptr;
  size_t checked_ = 0;
};

// The decoder hard-codes these (put_metric_data_decoder.cpp); a model update must revisit it.
TEST_F(PutMetricDataFastPathTest, ModelStillHasTheConstraintsTheDecoderHardCodes) {
  using protocol::ShapeType;
  auto members_of = [](const protocol::Shape* s) {
    std::vector<std::string> names;
    for (const auto& m : s->members) {
      names.push_back(m.name + (m.required ? "!" : ""));
      EXPECT_EQ(m.wire_name(), m.name);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const protocol::Shape* request = operation_->input;
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(members_of(request), (std::vector<std::string>{"EntityMetricData", "MetricData", "Namespace!", "StrictEntityValidation"}));
  const protocol::Shape* ns = request->member("Namespace")->shape;
  EXPECT_EQ(ns->type, ShapeType::String);
  EXPECT_EQ(ns->min, 1);
  EXPECT_EQ(ns->max, 255);
  EXPECT_EQ(ns->pattern, "[^:].*");
  EXPECT_TRUE(ns->enum_values.empty());
  EXPECT_EQ(request->member("StrictEntityValidation")->shape->type, ShapeType::Boolean);
  const protocol::Shape* data = request->member("MetricData")->shape;
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
  EXPECT_TRUE(name->enum_values.empty());
  const protocol::Shape* dims = datum->member("Dimensions")->shape;
  EXPECT_EQ(dims->type, ShapeType::List);
  EXPECT_FALSE(dims->min);
  EXPECT_EQ(dims->max, 30);
  const protocol::Shape* dim = dims->list_member.shape;
  EXPECT_EQ(members_of(dim), (std::vector<std::string>{"Name!", "Value!"}));
  for (auto [member, max] : {std::pair<const char*, double>{"Name", 255}, {"Value", 1024}}) {
    const protocol::Shape* s = dim->member(member)->shape;
    EXPECT_EQ(s->type, ShapeType::String) << member;
    EXPECT_EQ(s->min, 1) << member;
    EXPECT_EQ(s->max, max) << member;
    EXPECT_TRUE(s->pattern.empty()) << member;
    EXPECT_TRUE(s->enum_values.empty()) << member;
  }
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
  for (const auto& m : stats->members) {
    EXPECT_EQ(m.shape->type, ShapeType::Double);
    EXPECT_FALSE(m.shape->min);
    EXPECT_FALSE(m.shape->max);
  }
  const protocol::Shape* unit = datum->member("Unit")->shape;
  EXPECT_EQ(unit->type, ShapeType::String);
  EXPECT_EQ(unit->enum_values,
            (std::vector<std::string>{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
                                      "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
                                      "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
                                      "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}));
  const protocol::Shape* resolution = datum->member("StorageResolution")->shape;
  EXPECT_EQ(resolution->type, ShapeType::Integer);
  EXPECT_EQ(resolution->min, 1);
  EXPECT_FALSE(resolution->max);
}

// Both paths against a hand-written expectation, so a mistake both share cannot hide.
TEST_F(PutMetricDataFastPathTest, DecodesEveryMemberKind) {
  const std::string body =
      "{\"StrictEntityValidation\":false,\"MetricData\":["
      "{\"MetricName\":\"m1\",\"Dimensions\":[{\"Value\":\"v1\",\"Name\":\"b\"},{\"Name\":\"a\",\"Value\":\"\\u00e9\\n\"}],\"Timestamp\":1700000000.5,"
      "\"Value\":3,\"Unit\":\"Count\",\"StorageResolution\":1},"
      "{\"MetricName\":\"m2\",\"StatisticValues\":{\"Sum\":10.5,\"SampleCount\":4,\"Minimum\":-1,\"Maximum\":1e3},\"Timestamp\":1700000000},"
      "{\"MetricName\":\"m3\",\"Values\":[1,2.5,18446744073709551615],\"Counts\":[1,0,2]},"
      "{\"MetricName\":\"m4\",\"Values\":[],\"Dimensions\":[]}"
      "],\"Namespace\":\"App/\xe2\x9c\x93\"}";
  PutMetricDataInput expected;
  expected.namespace_ = "App/\xe2\x9c\x93";
  expected.metric_data.emplace(4);
  auto& d = *expected.metric_data;
  d[0].metric_name = "m1";
  d[0].dimensions = {{"b", "v1"}, {"a", "\xc3\xa9\n"}};
  d[0].timestamp_s = 1700000000.5;
  d[0].value = 3;
  d[0].unit = "Count";
  d[0].storage_resolution = 1;
  d[1].metric_name = "m2";
  d[1].statistic_values = StatisticSetInput{4, 10.5, -1, 1000};
  d[1].timestamp_s = 1700000000;
  d[2].metric_name = "m3";
  d[2].values = std::vector<double>{1, 2.5, 18446744073709551615.0};
  d[2].counts = std::vector<double>{1, 0, 2};
  d[3].metric_name = "m4";
  d[3].values = std::vector<double>{};

  PutMetricDataInput fast;
  ASSERT_TRUE(decode_put_metric_data(body, fast));
  EXPECT_TRUE(fast == expected) << describe(fast);
  std::string error;
  auto generic = run_generic(body, error);
  ASSERT_TRUE(generic) << error;
  EXPECT_TRUE(*generic == expected) << describe(*generic);

  // Reused over a bigger previous call: nothing of it survives.
  PutMetricDataInput big;
  ASSERT_TRUE(decode_put_metric_data(batch(50), big));
  ASSERT_TRUE(decode_put_metric_data(body, big));
  EXPECT_TRUE(big == expected) << describe(big);
  // Namespace alone (the handler answers MissingParameter): MetricData absent, not empty.
  ASSERT_TRUE(decode_put_metric_data("{\"Namespace\":\"x\"}", big));
  EXPECT_EQ(big.namespace_, "x");
  EXPECT_FALSE(big.metric_data);
  ASSERT_TRUE(decode_put_metric_data("{\"Namespace\":\"x\",\"MetricData\":[]}", big));
  ASSERT_TRUE(big.metric_data);
  EXPECT_TRUE(big.metric_data->empty());
}

TEST_F(PutMetricDataFastPathTest, ValidRequestsTakeTheFastPath) {
  check_fast(with_name("\"Value\":1"));
  check_fast(one(kName));  // no value at all: the handler's error, not the model's
  check_fast("{\"Namespace\":\"ns\"}");
  check_fast("{\"Namespace\":\"ns\",\"MetricData\":[]}");
  check_fast(" \n{ \"MetricData\" : [ { \"Value\" : 1 , \"MetricName\" : \"m\" } ] ,\t\"Namespace\" : \"ns\" }\r\n");
  check_fast(with_name("\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"b\"}],\"Timestamp\":1700000000,\"Value\":1.5,\"Unit\":\"Bytes/Second\",\"StorageResolution\":1"));
  check_fast(one(kName + ",\"Value\":1", ",\"StrictEntityValidation\":true"));
  check_fast(one(kName + ",\"Value\":1", ",\"StrictEntityValidation\":false"));
  check_fast("{\"StrictEntityValidation\":true,\"Namespace\":\"ns\"}");
  // Values / Counts / StatisticValues, and the handler-level conflicts the model allows.
  check_fast(with_name("\"Values\":[1,2,3.5,-4,0],\"Counts\":[1,2,3,4,5]"));
  check_fast(with_name("\"Values\":[1,2],\"Counts\":[1]"));
  check_fast(with_name("\"Counts\":[1]"));
  check_fast(with_name("\"Values\":[]"));
  check_fast(with_name("\"Values\":[],\"Counts\":[]"));
  check_fast(with_name("\"StatisticValues\":{\"SampleCount\":2,\"Sum\":3,\"Minimum\":1,\"Maximum\":2}"));
  check_fast(with_name("\"StatisticValues\":{\"Maximum\":2.5,\"Minimum\":-1e-3,\"Sum\":1E2,\"SampleCount\":0}"));
  check_fast(with_name("\"Value\":1,\"StatisticValues\":{\"SampleCount\":2,\"Sum\":3,\"Minimum\":1,\"Maximum\":2},\"Values\":[1]"));
  // Every unit of the enum.
  for (const char* unit : {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits", "Kilobits",
                           "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
                           "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
                           "Terabits/Second", "Count/Second", "None"})
    check_fast(with_name("\"Value\":1,\"Unit\":\"" + std::string(unit) + "\""));
  check_fast(with_name("\"Value\":1,\"Unit\":\"Bytes\\/Second\""));  // an escape that yields an enum value
  // Timestamps: integers, fractions, exponents, out-of-range ones (the handler's error).
  for (const char* t : {"1700000000", "1700000000.123456", "1.7e9", "17E8", "0", "-1", "-0", "0.0", "1700000000000", "9223372036854775807",
                        "18446744073709551615", "1e300", "5e-324"})
    check_fast(with_name("\"Value\":1,\"Timestamp\":" + std::string(t)));
  // Numbers for doubles: ints, big ints (as doubles), -0, exponents, extremes.
  for (const char* v : {"0", "-0", "-0.0", "0e0", "1", "-1", "1.5", "1e2", "1E+2", "1e-2", "-2.5E-3", "123456789012345678", "9223372036854775807",
                        "-9223372036854775808", "9223372036854775808", "18446744073709551615", "1.7976931348623157e308", "-1.7976931348623157e308",
                        "2.2250738585072014e-308", "4.9e-324", "0.1", "3.141592653589793238462643383279"})
    check_fast(with_name("\"Value\":" + std::string(v) + ",\"Values\":[" + v + "],\"Counts\":[" + v + "],\"StatisticValues\":{\"SampleCount\":" + v +
                         ",\"Sum\":" + v + ",\"Minimum\":" + v + ",\"Maximum\":" + v + "}"));
  for (const char* r : {"1", "5", "60", "2147483647"}) check_fast(with_name("\"Value\":1,\"StorageResolution\":" + std::string(r)));
  // Unicode and escapes in names and dimensions.
  check_fast(with_name("\"Value\":1,\"Dimensions\":[{\"Name\":\"h\\u00e9llo \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0000\",\"Value\":\"\\ud83d\\ude00 \xc3\xa9 "
                       "\xe2\x9c\x93 \xf0\x9f\x98\x80\"}]"));
  check_fast(one("\"MetricName\":\"\xe6\x97\xa5\xe6\x9c\xac \\u00e9 \\ud83d\\ude00\",\"Value\":1"));
  check_fast(with_namespace("\"\xc3\xa9/ns\""));
  check_fast(with_namespace("\"\\u00e9\""));
  check_fast(with_namespace("\"a:b\""));
  check_fast(with_namespace("\"a:\""));
  check_fast(with_namespace("\"\\n:\""));
  check_fast(with_namespace("\" \""));
  check_fast(with_namespace("\"\\u0000\""));
  check_fast(with_namespace("\"\\ud83d\\ude00:\""));
  check_fast(with_namespace("\"AWS/EC2\""));  // reserved: the handler's error, not the model's
  // Limits, just inside (characters, not bytes).
  check_fast(with_namespace(quoted(std::string(255, 'n'))));
  check_fast(with_namespace(quoted(repeat("\xc3\xa9", 255))));
  check_fast(with_namespace(quoted(repeat("\xf0\x9f\x98\x80", 255))));
  check_fast(one("\"MetricName\":" + quoted(std::string(255, 'm')) + ",\"Value\":1"));
  check_fast(one("\"MetricName\":" + quoted(repeat("\xe2\x9c\x93", 255)) + ",\"Value\":1"));
  check_fast(with_name("\"Value\":1,\"Dimensions\":" + dims_of(30)));
  check_fast(with_name("\"Value\":1,\"Dimensions\":[{\"Name\":" + quoted(std::string(255, 'k')) + ",\"Value\":" + quoted(std::string(1024, 'v')) + "}]"));
  check_fast(with_name("\"Value\":1,\"Dimensions\":[{\"Name\":" + quoted(repeat("\xc3\xa9", 255)) + ",\"Value\":" + quoted(repeat("\xe2\x9c\x93", 1024)) + "}]"));
  check_fast(with_name("\"Value\":1,\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"1\"},{\"Name\":\"a\",\"Value\":\"2\"}]"));  // the handler's error
  check_fast(with_name("\"Value\":1,\"Dimensions\":[]"));
  // Big calls: the benchmark's 1 000 datums, 30 dimensions each, long Values lists.
  check_fast(batch(1));
  check_fast(batch(1000));
  check_fast(batch(3000));
  {
    std::string body = "{\"Namespace\":\"ns\",\"MetricData\":[";
    for (int i = 0; i < 1000; ++i)
      body += std::string(i ? "," : "") + "{\"MetricName\":\"m" + std::to_string(i) + "\",\"Dimensions\":" + dims_of(30, "dim", "value-" + std::to_string(i)) +
              ",\"Values\":[1,2,3],\"Counts\":[3,2,1]}";
    check_fast(body + "]}");
  }
  {
    std::string values;
    for (int i = 0; i < 5000; ++i) values += std::string(i ? "," : "") + std::to_string(i) + "." + std::to_string(i % 7);
    check_fast(with_name("\"Values\":[" + values + "],\"Counts\":[" + values + "]"));
  }
  // Shrinking and growing calls over the reused input (a 1 000-datum call left it big).
  check_fast(batch(2));
  check_fast(with_name("\"Values\":[1]"));
  check_fast(batch(1000));
  check_fast(with_name("\"Value\":1"));
  std::printf("[ info     ] %zu bodies checked\n", checked_);
}

TEST_F(PutMetricDataFastPathTest, BrokenConstraintsAndTypesAreDeclined) {
  const std::string ok = "\"Value\":1";
  std::vector<std::string> rejected = {
      // Malformed JSON, non-object roots, empty bodies.
      "", "  \n", "{", "}", "[]", "null", "1", "\"x\"", "{}", "{} x", "{}{}", "{\"Namespace\":\"ns\"", "{\"Namespace\" \"ns\"}", "{\"Namespace\":\"ns\",}",
      with_name(ok) + ",", with_name(ok) + " x", one(kName + ",\"Values\":[1,]"), one(kName + ",\"Values\":[1 2]"), "\xef\xbb\xbf" + with_name(ok),
      with_namespace("\"bad \xff utf8\""), with_namespace("\"lone \\ud800 high\""), with_namespace("\"lone \\udc00 low\""),
      with_namespace("\"raw \x01 control\""), with_namespace("'ns'"), one(kName + ",\"Value\":01"), one(kName + ",\"Value\":1."),
      one(kName + ",\"Value\":.5"), one(kName + ",\"Value\":+1"), one(kName + ",\"Value\":1e400"), one(kName + ",\"Value\":-1e400"),
      one(kName + ",\"Value\":123456789012345678901234567890"), one(kName + ",\"Value\":NaN"), one(kName + ",\"Value\":Infinity"),
      one(kName + ",\"Value\":1,\"x\":" + std::string(3000, '[') + std::string(3000, ']')),
      // Namespace: required, 1-255 characters, pattern [^:].*, a string.
      "{\"MetricData\":[{" + kName + "," + ok + "}]}", with_namespace("null"), with_namespace("\"\""), with_namespace(quoted(std::string(256, 'n'))),
      with_namespace(quoted(repeat("\xc3\xa9", 256))), with_namespace("\":\""), with_namespace("\":a\""), with_namespace("\"\\u003ans\""),
      with_namespace("5"), with_namespace("true"), with_namespace("[]"), with_namespace("{}"),
      // MetricData and datums: types, nulls, MetricName required and 1-255 characters.
      "{\"Namespace\":\"ns\",\"MetricData\":{}}", "{\"Namespace\":\"ns\",\"MetricData\":\"x\"}", "{\"Namespace\":\"ns\",\"MetricData\":[1]}",
      "{\"Namespace\":\"ns\",\"MetricData\":[[]]}", "{\"Namespace\":\"ns\",\"MetricData\":[\"m\"]}", "{\"Namespace\":\"ns\",\"MetricData\":[{}]}",
      one(ok), one("\"MetricName\":null," + ok), one("\"MetricName\":\"\"," + ok), one("\"MetricName\":" + quoted(std::string(256, 'm')) + "," + ok),
      one("\"MetricName\":" + quoted(repeat("\xe2\x9c\x93", 256)) + "," + ok), one("\"MetricName\":5," + ok), one("\"MetricName\":[\"m\"]," + ok),
      // Dimensions: at most 30, Name 1-255 and Value 1-1024 both required, strings.
      with_name(ok + ",\"Dimensions\":" + dims_of(31)), with_name(ok + ",\"Dimensions\":{}"), with_name(ok + ",\"Dimensions\":\"a\""),
      with_name(ok + ",\"Dimensions\":[{}]"), with_name(ok + ",\"Dimensions\":[{\"Name\":\"a\"}]"), with_name(ok + ",\"Dimensions\":[{\"Value\":\"a\"}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"\",\"Value\":\"v\"}]"), with_name(ok + ",\"Dimensions\":[{\"Name\":\"n\",\"Value\":\"\"}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":" + quoted(std::string(256, 'k')) + ",\"Value\":\"v\"}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"n\",\"Value\":" + quoted(std::string(1025, 'v')) + "}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"n\",\"Value\":" + quoted(repeat("\xc3\xa9", 1025)) + "}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"n\",\"Value\":5}]"), with_name(ok + ",\"Dimensions\":[{\"Name\":1,\"Value\":\"v\"}]"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":null,\"Value\":\"v\"}]"), with_name(ok + ",\"Dimensions\":[[\"n\",\"v\"]]"),
      with_name(ok + ",\"Dimensions\":[\"n\"]"), with_name(ok + ",\"Dimensions\":[1]"),
      // StatisticValues: all four required, numbers.
      with_name("\"StatisticValues\":{\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"), with_name("\"StatisticValues\":{\"SampleCount\":1,\"Minimum\":1,\"Maximum\":1}"),
      with_name("\"StatisticValues\":{\"SampleCount\":1,\"Sum\":1,\"Maximum\":1}"), with_name("\"StatisticValues\":{\"SampleCount\":1,\"Sum\":1,\"Minimum\":1}"),
      with_name("\"StatisticValues\":{}"), with_name("\"StatisticValues\":{\"SampleCount\":null,\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"),
      with_name("\"StatisticValues\":{\"SampleCount\":\"1\",\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"),
      with_name("\"StatisticValues\":{\"SampleCount\":true,\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"), with_name("\"StatisticValues\":[1,2,3,4]"),
      with_name("\"StatisticValues\":1"),
      // Numbers: wrong types and strings that are not the JSON protocol's special values.
      with_name("\"Value\":\"1\""), with_name("\"Value\":\"nan\""), with_name("\"Value\":true"), with_name("\"Value\":[1]"), with_name("\"Value\":{}"),
      with_name("\"Values\":1"), with_name("\"Values\":[\"1\"]"), with_name("\"Values\":[true]"), with_name("\"Values\":[[1]]"), with_name("\"Values\":{}"),
      with_name("\"Counts\":1"), with_name("\"Counts\":[\"x\"]"), with_name("\"Counts\":[{}]"),
      with_name(ok + ",\"Timestamp\":true"), with_name(ok + ",\"Timestamp\":[]"), with_name(ok + ",\"Timestamp\":\"yesterday\""),
      with_name(ok + ",\"Timestamp\":\"\""),
      // Unit: the enum, exactly.
      with_name(ok + ",\"Unit\":\"count\""), with_name(ok + ",\"Unit\":\"Counts\""), with_name(ok + ",\"Unit\":\"\""), with_name(ok + ",\"Unit\":\"Count \""),
      with_name(ok + ",\"Unit\":\"Count\\u0000\""), with_name(ok + ",\"Unit\":5"), with_name(ok + ",\"Unit\":[\"Count\"]"),
      // StorageResolution: an int32, min 1.
      with_name(ok + ",\"StorageResolution\":0"), with_name(ok + ",\"StorageResolution\":-1"), with_name(ok + ",\"StorageResolution\":0.0"),
      with_name(ok + ",\"StorageResolution\":0.5"), with_name(ok + ",\"StorageResolution\":1.5"), with_name(ok + ",\"StorageResolution\":2147483648"),
      with_name(ok + ",\"StorageResolution\":-2147483649"), with_name(ok + ",\"StorageResolution\":9223372036854775807"),
      with_name(ok + ",\"StorageResolution\":18446744073709551615"), with_name(ok + ",\"StorageResolution\":1e19"),
      with_name(ok + ",\"StorageResolution\":\"60\""), with_name(ok + ",\"StorageResolution\":true"),
      // StrictEntityValidation: a boolean. EntityMetricData: its own constraints.
      one(kName + "," + ok, ",\"StrictEntityValidation\":\"true\""), one(kName + "," + ok, ",\"StrictEntityValidation\":1"),
      one(kName + "," + ok, ",\"EntityMetricData\":{}"), one(kName + "," + ok, ",\"EntityMetricData\":[1]"),
      one(kName + "," + ok, ",\"EntityMetricData\":[{\"Entity\":{\"KeyAttributes\":{\"a\":\"b\"}}}]"),
      one(kName + "," + ok, ",\"EntityMetricData\":[{\"MetricData\":[{}]}]"),
      // Duplicate members where a later one has the wrong type (the generic path converts
      // every duplicate, and validates the first).
      with_namespace("\"ns\",\"Namespace\":5"), with_name(ok + ",\"Value\":\"x\""), with_name(ok + ",\"Dimensions\":[],\"Dimensions\":{}"),
  };
  for (const auto& body : rejected) check_rejected(body);

  // Odd but possibly accepted by the generic path (nulls as absent, unknown members, special
  // number strings, date strings, duplicates, EntityMetricData): the decoder may decline.
  std::vector<std::string> odd = {
      with_name(ok + ",\"Unit\":\"Count\",\"Unit\":\"bad\""), with_name(ok + ",\"Dimensions\":[],\"Dimensions\":[{\"Name\":\"\"}]"),
      "{\"Namespace\":\"ns\",\"MetricData\":null}", "{\"Namespace\":\"ns\",\"MetricData\":[null]}", with_name(ok + ",\"Dimensions\":null"),
      with_name(ok + ",\"Dimensions\":[null]"), with_name("\"Value\":null"), with_name(ok + ",\"Timestamp\":null"), with_name(ok + ",\"Unit\":null"),
      with_name(ok + ",\"StorageResolution\":null"), with_name("\"Values\":[1,null],\"Counts\":[null,1]"), with_name("\"StatisticValues\":null"),
      with_name(ok + ",\"Values\":null,\"Counts\":null"), one(kName + "," + ok, ",\"StrictEntityValidation\":null"),
      one(kName + "," + ok, ",\"EntityMetricData\":null"), one(kName + "," + ok, ",\"EntityMetricData\":[]"),
      one(kName + "," + ok, ",\"EntityMetricData\":[{}]"),
      one(kName + "," + ok, ",\"EntityMetricData\":[{\"Entity\":{\"KeyAttributes\":{\"Type\":\"Service\",\"Name\":\"a\"}},\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}]"),
      one(kName + "," + ok, ",\"Unknown\":1"), one(kName + "," + ok, ",\"namespace\":\"x\""), with_name(ok + ",\"Extra\":{\"a\":[1,null]}"),
      with_name("\"StatisticValues\":{\"SampleCount\":1,\"Sum\":1,\"Minimum\":1,\"Maximum\":1,\"Extra\":\"x\"}"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"n\",\"Value\":\"v\",\"Extra\":1}]"),
      one(kName + "," + ok, ",\"x\":" + std::string(60, '[') + std::string(60, ']')),
      one(kName + "," + ok, ",\"x\":" + std::string(1000, '[') + std::string(1000, ']')),
      with_name("\"Value\":\"NaN\""), with_name("\"Value\":\"Infinity\""), with_name("\"Value\":\"-Infinity\""), with_name("\"Values\":[\"NaN\",1]"),
      with_name("\"StatisticValues\":{\"SampleCount\":\"Infinity\",\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"),
      with_name(ok + ",\"Timestamp\":\"2023-11-14T22:13:20Z\""), with_name(ok + ",\"Timestamp\":\"2023-11-14T22:13:20.5Z\""),
      with_name(ok + ",\"Timestamp\":\"1700000000\""), with_name(ok + ",\"Timestamp\":\"Tue, 14 Nov 2023 22:13:20 GMT\""),
      with_name(ok + ",\"StorageResolution\":1.0"), with_name(ok + ",\"StorageResolution\":60.0"), with_name(ok + ",\"StorageResolution\":6e1"),
      with_name(ok + ",\"StorageResolution\":3e9"),
      with_namespace("\"a\",\"Namespace\":\"b\""), one("\"MetricName\":\"a\",\"MetricName\":\"b\"," + ok), with_name(ok + ",\"Value\":2"),
      with_name(ok + ",\"Dimensions\":[{\"Name\":\"a\",\"Name\":\"b\",\"Value\":\"v\"}]"),
      with_name("\"StatisticValues\":{\"SampleCount\":1,\"SampleCount\":2,\"Sum\":1,\"Minimum\":1,\"Maximum\":1}"),
      "{\"Namespace\":\"ns\",\"MetricData\":[],\"MetricData\":[{" + kName + "}]}", one(kName + "," + ok, ",\"StrictEntityValidation\":true,\"StrictEntityValidation\":false"),
      "{\"Namespace\":\"ns\",\"Namespace\":null}", "{\"Namespace\":null,\"Namespace\":\"ns\"}",
      "{\"Nam\\u0065space\":\"ns\",\"M\\u0065tricData\":[{\"MetricName\":\"m\",\"Valu\\u0065\":1}]}",
  };
  for (const auto& body : odd) check(body);
  std::printf("[ info     ] %zu rejected + %zu odd bodies checked\n", rejected.size(), odd.size());
}

// Random edits of valid bodies (deterministic): whatever the decoder takes, the generic path
// takes identically.
TEST_F(PutMetricDataFastPathTest, RandomMutationsAgree) {
  const std::vector<std::string> seeds = {
      with_name("\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"b\"},{\"Name\":\"c\",\"Value\":\"\\u00e9\"}],\"Timestamp\":1700000000.5,\"Value\":1.5,"
                "\"Unit\":\"Count\",\"StorageResolution\":1"),
      with_name("\"Values\":[1,2.5,-3e2],\"Counts\":[1,2,3],\"Timestamp\":1700000000"),
      with_name("\"StatisticValues\":{\"SampleCount\":2,\"Sum\":3,\"Minimum\":1,\"Maximum\":2},\"Unit\":\"Bytes/Second\""),
      one(kName + ",\"Value\":1", ",\"StrictEntityValidation\":true"),
      batch(3),
  };
  const std::string alphabet = "{}[]\":,0123456789.-eE+ \\ntruefalsnul:/\xc3\xa9";
  const std::vector<std::string> tokens = {"null", "\"\"", "[]", "{}", "1e400", "-0", "\"Value\":", "\"Values\":", "\"Dimensions\":", "\"Unit\":",
                                           "\"StorageResolution\":", "\"EntityMetricData\":", "\"MetricName\":\"x\",", "\"NaN\"", ":", ","};
  std::mt19937 rng(20240611);
  size_t fast = 0;
  const int kRounds = 4000;
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
  EXPECT_GT(fast, size_t(kRounds / 50));  // some mutations still reach acceptance (about 3%)
}

// Random requests assembled from valid and broken member values (deterministic), in random
// order with the odd duplicate or unknown member: reaches every member's edge in combination.
TEST_F(PutMetricDataFastPathTest, RandomCompositionsAgree) {
  struct Pool {
    const char* key;
    std::vector<std::string> good, bad;
  };
  const std::vector<Pool> datum_pools = {
      {"MetricName", {"\"m\"", "\"\xc3\xa9\"", quoted(std::string(255, 'm'))}, {"\"\"", quoted(std::string(256, 'm')), "5", "null"}},
      {"Dimensions",
       {"[]", dims_of(1), dims_of(30), "[{\"Name\":\"\\u00e9\",\"Value\":" + quoted(std::string(1024, 'v')) + "}]"},
       {dims_of(31), "[{\"Name\":\"a\"}]", "[{\"Name\":\"\",\"Value\":\"v\"}]", "[null]", "null", "{}"}},
      {"Timestamp", {"1700000000", "1700000000.25", "1.7e9", "-0"}, {"\"2023-11-14T22:13:20Z\"", "true", "null", "\"x\""}},
      {"Value", {"1", "-2.5", "1e300", "18446744073709551615", "-0"}, {"\"NaN\"", "\"1\"", "null", "[]"}},
      {"StatisticValues",
       {"{\"SampleCount\":1,\"Sum\":2,\"Minimum\":0,\"Maximum\":2}", "{\"Maximum\":1,\"Minimum\":1,\"Sum\":1.5,\"SampleCount\":1e0}"},
       {"{\"SampleCount\":1}", "{}", "null", "{\"SampleCount\":1,\"Sum\":2,\"Minimum\":0,\"Maximum\":\"x\"}"}},
      {"Values", {"[]", "[1]", "[1,2.5,3e3]"}, {"[null]", "[\"1\"]", "null", "1"}},
      {"Counts", {"[]", "[1]", "[0,2]"}, {"[null]", "[true]", "null"}},
      {"Unit", {"\"Count\"", "\"None\"", "\"Bytes/Second\""}, {"\"count\"", "\"\"", "null", "1"}},
      {"StorageResolution", {"1", "60", "2147483647"}, {"0", "-1", "1.0", "2147483648", "\"60\"", "null"}},
  };
  const std::vector<std::string> namespaces = {"\"ns\"", "\"a:b\"", "\"\xc3\xa9\"", quoted(std::string(255, 'n')),
                                               "\"\"",   "\":a\"", quoted(std::string(256, 'n')), "5", "null"};
  std::mt19937 rng(7);
  auto pick = [&rng](const std::vector<std::string>& v) -> const std::string& { return v[rng() % v.size()]; };
  size_t fast = 0, generic = 0;
  const int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> root;
    if (rng() % 20) root.push_back("\"Namespace\":" + (rng() % 5 ? namespaces[rng() % 4] : pick(namespaces)));
    if (rng() % 10) {
      std::string data = "\"MetricData\":[";
      int n = int(rng() % 4);
      for (int i = 0; i < n; ++i) {
        std::vector<std::string> members;
        for (const Pool& pool : datum_pools) {
          bool include = pool.key == std::string_view("MetricName") ? rng() % 20 != 0 : rng() % 3 == 0;
          if (!include) continue;
          const std::string& value = rng() % 12 ? pick(pool.good) : pick(pool.bad);
          members.push_back("\"" + std::string(pool.key) + "\":" + value);
          if (rng() % 40 == 0) members.push_back("\"" + std::string(pool.key) + "\":" + pick(pool.good));  // duplicate
        }
        if (rng() % 40 == 0) members.push_back("\"Other\":1");
        for (size_t k = members.size(); k > 1; --k) std::swap(members[k - 1], members[rng() % k]);
        std::string datum = "{";
        for (size_t k = 0; k < members.size(); ++k) datum += (k ? "," : "") + members[k];
        data += (i ? "," : "") + datum + "}";
      }
      root.push_back(data + "]");
    }
    if (rng() % 10 == 0) root.push_back(std::string("\"StrictEntityValidation\":") + (rng() % 2 ? "true" : "false"));
    if (rng() % 30 == 0) root.push_back("\"EntityMetricData\":[]");
    for (size_t k = root.size(); k > 1; --k) std::swap(root[k - 1], root[rng() % k]);
    std::string body = "{";
    for (size_t k = 0; k < root.size(); ++k) body += (k ? "," : "") + root[k];
    Result r = check(body + "}");
    fast += r.fast;
    generic += r.generic;
  }
  std::printf("[ info     ] %d composed bodies: %zu valid, %zu taken by the fast decoder\n", kRounds, generic, fast);
  EXPECT_GT(fast, size_t(kRounds / 4));
}

}  // namespace
}  // namespace vigil::cloudwatch
