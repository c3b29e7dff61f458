// PutMetricData's rpc-v2-cbor fast decoder (services/cloudwatch/put_metric_data_cbor_decoder)
// against the generic path (CborCodec::decode_request + validate_input with the embedded
// cloudwatch model, then put_metric_data_input): whatever the decoder accepts, the generic
// path accepts with the identical PutMetricDataInput. Declining is always safe (the server
// then takes the generic path), but every plain request must be taken, or the fast path is
// not one. The model constraints the decoder hard-codes are checked against the model by
// put_metric_data_fast_path_test.cpp (the awsJson decoder hard-codes the same ones).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "protocol/cbor.h"
#include "protocol/cbor_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "put_metric_data_test_support.h"
#include "services/cloudwatch/put_metric_data_cbor_decoder.h"

namespace vigil::cloudwatch {
namespace {

using test_support::describe;
using test_support::number_text;

namespace cbor = protocol::cbor;

// ---------------------------------------------------------------------------------------------
// Comparing and showing inputs.
// ---------------------------------------------------------------------------------------------

// Doubles compared by their bits: NaN is a valid CBOR number here (the handler rejects it
// later), and -0.0 must stay -0.0. Stricter than operator== everywhere else.
bool same(double a, double b) {
  uint64_t x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y;
}
bool same(const std::optional<double>& a, const std::optional<double>& b) { return a.has_value() == b.has_value() && (!a || same(*a, *b)); }
bool same(const std::optional<std::vector<double>>& a, const std::optional<std::vector<double>>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i)
    if (!same((*a)[i], (*b)[i])) return false;
  return true;
}
bool same(const MetricDatumInput& a, const MetricDatumInput& b) {
  if (a.statistic_values.has_value() != b.statistic_values.has_value()) return false;
  if (a.statistic_values) {
    const StatisticSetInput &x = *a.statistic_values, &y = *b.statistic_values;
    if (!same(x.sample_count, y.sample_count) || !same(x.sum, y.sum) || !same(x.minimum, y.minimum) || !same(x.maximum, y.maximum)) return false;
  }
  return a.metric_name == b.metric_name && a.dimensions == b.dimensions && same(a.timestamp_s, b.timestamp_s) && same(a.value, b.value) &&
         same(a.values, b.values) && same(a.counts, b.counts) && a.unit == b.unit && a.storage_resolution == b.storage_resolution;
}
bool same(const PutMetricDataInput& a, const PutMetricDataInput& b) {
  if (a.namespace_ != b.namespace_ || a.has_entity_metric_data != b.has_entity_metric_data) return false;
  if (a.metric_data.has_value() != b.metric_data.has_value()) return false;
  if (!a.metric_data) return true;
  if (a.metric_data->size() != b.metric_data->size()) return false;
  for (size_t i = 0; i < a.metric_data->size(); ++i)
    if (!same((*a.metric_data)[i], (*b.metric_data)[i])) return false;
  return true;
}



std::string hex(const std::string& bytes, size_t max = 200) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    out += digits[static_cast<unsigned char>(bytes[i]) >> 4];
    out += digits[static_cast<unsigned char>(bytes[i]) & 15];
  }
  return bytes.size() > max ? out + "..." : out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-built CBOR: items as byte strings, so edge encodings (half floats, non-minimal heads,
// indefinite lengths, tags) can be written exactly.
// ---------------------------------------------------------------------------------------------

std::string head(uint8_t major, uint64_t arg) {
  std::string out;
  cbor::Writer(out).head(major, arg);
  return out;
}
// A head with an explicit additional info (24-27: 1, 2, 4, 8 argument bytes), non-minimal ones included.
std::string head_wide(uint8_t major, uint8_t info, uint64_t arg) {
  std::string out(1, static_cast<char>((major << 5) | info));
  int n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : 8;
  for (int i = n - 1; i >= 0; --i) out += static_cast<char>((arg >> (8 * i)) & 0xff);
  return out;
}
std::string text(std::string_view s) { return head(3, s.size()) + std::string(s); }
std::string bytes(std::string_view s) { return head(2, s.size()) + std::string(s); }
std::string u(uint64_t v) { return head(0, v); }
std::string neg(uint64_t n) { return head(1, n); }  // -1 - n
std::string f16(uint16_t bits) { return std::string("\xf9") + static_cast<char>(bits >> 8) + static_cast<char>(bits & 0xff); }
std::string f32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return head_wide(7, 26, bits);
}
std::string f64(double d) {
  std::string out;
  cbor::Writer(out).float64(d);
  return out;
}
std::string tag(uint64_t t, const std::string& item) { return head(6, t) + item; }
std::string ts(const std::string& item) { return tag(1, item); }
const std::string kNull = "\xf6", kUndefined = "\xf7", kTrue = "\xf5", kFalse = "\xf4", kBreak = "\xff";

// Members of a map, with their count (definite heads need it).
struct Members {
  size_t n = 0;
  std::string bytes;
};
Members operator+(Members a, const Members& b) {
  a.n += b.n;
  a.bytes += b.bytes;
  return a;
}
Members m(std::string_view key, const std::string& value) { return {1, text(key) + value}; }
std::string obj(const Members& ms) { return head(5, ms.n) + ms.bytes; }
std::string iobj(const Members& ms) { return "\xbf" + ms.bytes + kBreak; }  // indefinite length
std::string arr(const std::vector<std::string>& items) {
  std::string out = head(4, items.size());
  for (const auto& item : items) out += item;
  return out;
}
std::string iarr(const std::vector<std::string>& items) {
  std::string out = "\x9f";
  for (const auto& item : items) out += item;
  return out + kBreak;
}

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t k = 0; k < n; ++k) out += s;
  return out;
}

// A request with one datum made of `members`, and `extra` root members.
std::string one(const Members& members, const Members& extra = {}) {
  return obj(m("Namespace", text("ns")) + m("MetricData", arr({obj(members)})) + extra);
}
const Members kName = m("MetricName", text("m"));
const Members kOk = m("Value", u(1));
std::string with_name(const Members& members) { return one(kName + members); }
std::string with_namespace(const std::string& ns) { return obj(m("Namespace", ns) + m("MetricData", arr({obj(kName + kOk)}))); }
std::string dims_of(size_t n, const std::string& name_prefix = "d", const std::string& value = "v") {
  std::vector<std::string> items;
  for (size_t k = 0; k < n; ++k) items.push_back(obj(m("Name", text(name_prefix + std::to_string(k))) + m("Value", text(value))));
  return arr(items);
}

// What botocore 1.43 sends for a batch (the benchmark's shape): doubles as float64, Timestamp as
// tag 1 + integer seconds, StorageResolution as an integer, a few dimensions.
std::string batch(size_t n) {
  std::vector<std::string> data;
  for (size_t k = 0; k < n; ++k) {
    data.push_back(obj(m("MetricName", text("Latency" + std::to_string(k % 17))) +
                       m("Dimensions", arr({obj(m("Name", text("Host")) + m("Value", text("host-" + std::to_string(k % 50)))),
                                            obj(m("Name", text("Service")) + m("Value", text("api")))})) +
                       m("Timestamp", ts(u(1700000000 + k))) + m("Value", f64(double(k) + 0.5)) + m("Unit", text("Milliseconds")) +
                       m("StorageResolution", u(k % 2 ? 1 : 60))));
  }
  return obj(m("Namespace", text("Bench/App")) + m("MetricData", arr(data)));
}

// botocore 1.43.11's own bytes (RpcV2CBORSerializer.serialize_to_request), for
//   Namespace "App/Web", StrictEntityValidation False, MetricData [
//     {Latency, Dimensions [Host=hé-1, Service=api], Timestamp 2023-11-14T22:13:20Z, Value 12.5,
//      Unit Milliseconds, StorageResolution 1},
//     {Requests, Values [1, 2.5, inf], Counts [3, 1, 1], Unit Count, StorageResolution 60},
//     {Stats, StatisticValues {4, 10, 0.5, 6}, Timestamp 1970-01-01T00:00:05Z},
//     {Neg, Value -3, Timestamp 2106-02-07T06:28:16Z (2^32 s: an 8-byte integer)}]
const char* const kBotocoreBody =
    "a3694e616d657370616365674170702f5765626a4d65747269634461746184a66a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7382a2644e61"
    "6d6564486f73746556616c75656568c3a92d31a2644e616d6567536572766963656556616c7565636170696954696d657374616d70c11a6553f1006556616c7565fb"
    "402900000000000064556e69746c4d696c6c697365636f6e64737153746f726167655265736f6c7574696f6e01a56a4d65747269634e616d65685265717565737473"
    "6656616c75657383fb3ff0000000000000fb4004000000000000f97c0066436f756e747383fb4008000000000000fb3ff0000000000000fb3ff000000000000064556e"
    "697465436f756e747153746f726167655265736f6c7574696f6e183ca36a4d65747269634e616d656553746174736f53746174697374696356616c756573a46b5361"
    "6d706c65436f756e74fb40100000000000006353756dfb4024000000000000674d696e696d756dfb3fe0000000000000674d6178696d756dfb401800000000000069"
    "54696d657374616d70c105a36a4d65747269634e616d65634e65676556616c7565fbc0080000000000006954696d657374616d70c11b0000000100000000765374"
    "72696374456e7469747956616c69646174696f6ef4";

// ---------------------------------------------------------------------------------------------
// The fixture: both paths on one body.
// ---------------------------------------------------------------------------------------------

class PutMetricDataCborFastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = protocol::embedded_model("cloudwatch");
    ASSERT_NE(model_, nullptr);
    codec_ = std::make_unique<protocol::CborCodec>(*model_);
    operation_ = model_->operation("PutMetricData");
    ASSERT_NE(operation_, nullptr);
  }

  // What Dispatcher does on the generic path for an rpc-v2-cbor request, up to the handler's
  // input. Any AwsError (SerializationException, ValidationError) is "the generic path rejects".
  std::optional<PutMetricDataInput> run_generic(const std::string& body, std::string& error) const {
    HttpRequest r;
    r.method = "POST";
    r.path = "/service/GraniteServiceVersion20100801/operation/PutMetricData";
    r.headers = {{"smithy-protocol", "rpc-v2-cbor"}, {"content-type", "application/cbor"}};
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
    PutMetricDataInput fresh;
    Result result;
    result.fast = decode_put_metric_data_cbor(body, fresh);
    bool fast_reused = decode_put_metric_data_cbor(body, reused());
    EXPECT_EQ(result.fast, fast_reused) << hex(body);
    if (result.fast && fast_reused) {
      EXPECT_TRUE(same(fresh, reused())) << hex(body) << "\nfresh: " << describe(fresh) << "\nreused: " << describe(reused());
    }
    std::string error;
    std::optional<PutMetricDataInput> generic = run_generic(body, error);
    result.generic = generic.has_value();
    if (result.fast && !generic) {
      ADD_FAILURE() << "the fast decoder accepted what the generic path rejects (" << error << "): " << hex(body);
    } else if (result.fast) {
      EXPECT_TRUE(same(*generic, fresh)) << hex(body) << "\ngeneric: " << describe(*generic) << "\nfast: " << describe(fresh);
    }
    ++checked_;
    return result;
  }
  // A plain request: the generic path accepts it and the fast decoder must take it.
  void check_fast(const std::string& body) {
    Result r = check(body);
    EXPECT_TRUE(r.generic) << "not a valid request: " << hex(body);
    EXPECT_TRUE(r.fast) << "the fast decoder declined a plain request: " << hex(body);
  }
  // A broken constraint, type or encoding: the generic path rejects it (so the decoder must decline).
  void check_rejected(const std::string& body) {
    Result r = check(body);
    EXPECT_FALSE(r.generic) << "the generic path accepts: " << hex(body);
  }

  const protocol::ServiceModel* model_ = nullptr;
  std::unique_ptr<protocol::CborCodec> codec_;
  const protocol::Operation* operation_ = nullptr;
  size_t checked_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

// Both paths against a hand-written expectation, so a mistake both share cannot hide.
TEST_F(PutMetricDataCborFastPathTest, DecodesEveryMemberKind) {
  const std::string body = obj(
      m("StrictEntityValidation", kFalse) +
      m("MetricData",
        iarr({obj(m("MetricName", text("m1")) +
                  m("Dimensions", arr({obj(m("Value", text("v1")) + m("Name", text("b"))), iobj(m("Name", text("a")) + m("Value", text("\xc3\xa9\n")))})) +
                  m("Timestamp", ts(f64(1700000000.5))) + m("Value", u(3)) + m("Unit", text("Count")) + m("StorageResolution", u(1))),
              iobj(m("MetricName", text("m2")) +
                   m("StatisticValues", obj(m("Sum", f32(10.5f)) + m("SampleCount", u(4)) + m("Minimum", neg(0)) + m("Maximum", f16(0x63d0)))) +
                   m("Timestamp", u(1700000000))),
              obj(m("MetricName", text("m3")) + m("Values", arr({u(1), f16(0x4100), u(18446744073709551615ULL)})) + m("Counts", iarr({u(1), u(0), u(2)}))),
              obj(m("MetricName", text("m4")) + m("Values", arr({})) + m("Dimensions", iarr({}))),
              obj(m("MetricName", text("m5")) + m("Timestamp", ts(neg(0))) + m("Value", f16(0x8000)) + m("StorageResolution", f16(0x5380)))})) +
      m("Namespace", text("App/\xe2\x9c\x93")));
  PutMetricDataInput expected;
  expected.namespace_ = "App/\xe2\x9c\x93";
  expected.metric_data.emplace(5);
  auto& d = *expected.metric_data;
  d[0].metric_name = "m1";
  d[0].dimensions = {{"b", "v1"}, {"a", "\xc3\xa9\n"}};
  d[0].timestamp_s = 1700000000.5;
  d[0].value = 3;
  d[0].unit = "Count";
  d[0].storage_resolution = 1;
  d[1].metric_name = "m2";
  d[1].statistic_values = StatisticSetInput{4, 10.5, -1, 1000};  // 0x63d0: half 1000
  d[1].timestamp_s = 1700000000;
  d[2].metric_name = "m3";
  d[2].values = std::vector<double>{1, 2.5, 18446744073709551615.0};  // 0x4100: half 2.5
  d[2].counts = std::vector<double>{1, 0, 2};
  d[3].metric_name = "m4";
  d[3].values = std::vector<double>{};
  d[4].metric_name = "m5";
  d[4].timestamp_s = -1;
  d[4].value = -0.0;
  d[4].storage_resolution = 60;  // 0x5380: half 60.0

  PutMetricDataInput fast;
  ASSERT_TRUE(decode_put_metric_data_cbor(body, fast));
  EXPECT_TRUE(same(fast, expected)) << describe(fast);
  std::string error;
  auto generic = run_generic(body, error);
  ASSERT_TRUE(generic) << error;
  EXPECT_TRUE(same(*generic, expected)) << describe(*generic);

  // botocore's own bytes.
  PutMetricDataInput boto_expected;
  boto_expected.namespace_ = "App/Web";
  boto_expected.metric_data.emplace(4);
  auto& b = *boto_expected.metric_data;
  b[0].metric_name = "Latency";
  b[0].dimensions = {{"Host", "h\xc3\xa9-1"}, {"Service", "api"}};
  b[0].timestamp_s = 1700000000;
  b[0].value = 12.5;
  b[0].unit = "Milliseconds";
  b[0].storage_resolution = 1;
  b[1].metric_name = "Requests";
  b[1].values = std::vector<double>{1, 2.5, std::numeric_limits<double>::infinity()};
  b[1].counts = std::vector<double>{3, 1, 1};
  b[1].unit = "Count";
  b[1].storage_resolution = 60;
  b[2].metric_name = "Stats";
  b[2].statistic_values = StatisticSetInput{4, 10, 0.5, 6};
  b[2].timestamp_s = 5;
  b[3].metric_name = "Neg";
  b[3].value = -3;
  b[3].timestamp_s = 4294967296.0;
  const std::string boto = unhex(kBotocoreBody);
  ASSERT_TRUE(decode_put_metric_data_cbor(boto, fast));
  EXPECT_TRUE(same(fast, boto_expected)) << describe(fast);
  generic = run_generic(boto, error);
  ASSERT_TRUE(generic) << error;
  EXPECT_TRUE(same(*generic, boto_expected)) << describe(*generic);

  // Reused over a bigger previous call: nothing of it survives.
  PutMetricDataInput big;
  ASSERT_TRUE(decode_put_metric_data_cbor(batch(50), big));
  ASSERT_TRUE(decode_put_metric_data_cbor(body, big));
  EXPECT_TRUE(same(big, expected)) << describe(big);
  // Namespace alone (the handler answers MissingParameter): MetricData absent, not empty.
  ASSERT_TRUE(decode_put_metric_data_cbor(obj(m("Namespace", text("x"))), big));
  EXPECT_EQ(big.namespace_, "x");
  EXPECT_FALSE(big.metric_data);
  ASSERT_TRUE(decode_put_metric_data_cbor(obj(m("Namespace", text("x")) + m("MetricData", arr({}))), big));
  ASSERT_TRUE(big.metric_data);
  EXPECT_TRUE(big.metric_data->empty());
}

TEST_F(PutMetricDataCborFastPathTest, ValidRequestsTakeTheFastPath) {
  check_fast(unhex(kBotocoreBody));
  check_fast(with_name(kOk));
  check_fast(one(kName));  // no value at all: the handler's error, not the model's
  check_fast(obj(m("Namespace", text("ns"))));
  check_fast(obj(m("Namespace", text("ns")) + m("MetricData", arr({}))));
  check_fast(obj(m("MetricData", arr({obj(kOk + kName)})) + m("Namespace", text("ns"))));
  check_fast(one(kName + kOk, m("StrictEntityValidation", kTrue)));
  check_fast(one(kName + kOk, m("StrictEntityValidation", kFalse)));
  check_fast(obj(m("StrictEntityValidation", kTrue) + m("Namespace", text("ns"))));

  // The project's own encoder (cbor::encode of a Value: Int as major 0/1, Double as float64,
  // Timestamp as tag 1 + integer or float64).
  {
    Value datum = Value::map();
    datum.set("MetricName", "enc").set("Value", 2.25).set("Timestamp", Timestamp{1700000000.75}).set("Unit", "Bytes/Second");
    datum.set("Dimensions", Value(Value::List{Value::map().set("Name", "a").set("Value", "b")}));
    datum.set("Values", Value(Value::List{Value(1), Value(-2.5), Value(int64_t{-9000000000})})).set("Counts", Value(Value::List{Value(1), Value(2), Value(3)}));
    datum.set("StorageResolution", 1);
    Value stats = Value::map().set("SampleCount", 3).set("Sum", 1.5).set("Minimum", -7).set("Maximum", 1e300);
    Value datum2 = Value::map().set("MetricName", "enc2").set("StatisticValues", stats).set("Timestamp", Timestamp{1700000000});
    Value datum3 = Value::map().set("MetricName", "enc3").set("Timestamp", 1700000001).set("Value", -0.0);
    Value request = Value::map().set("Namespace", "Enc/\xf0\x9f\x98\x80").set("MetricData", Value(Value::List{datum, datum2, datum3}));
    check_fast(cbor::encode(request));
    request.set("StrictEntityValidation", true);
    check_fast(cbor::encode(request));
  }

  // Values / Counts / StatisticValues, and the handler-level conflicts the model allows.
  check_fast(with_name(m("Values", arr({u(1), u(2), f64(3.5), neg(3), u(0)})) + m("Counts", arr({u(1), u(2), u(3), u(4), u(5)}))));
  check_fast(with_name(m("Values", arr({u(1), u(2)})) + m("Counts", arr({u(1)}))));
  check_fast(with_name(m("Counts", arr({u(1)}))));
  check_fast(with_name(m("Values", arr({}))));
  check_fast(with_name(m("Values", iarr({})) + m("Counts", arr({}))));
  check_fast(with_name(m("StatisticValues", obj(m("SampleCount", u(2)) + m("Sum", u(3)) + m("Minimum", u(1)) + m("Maximum", u(2))))));
  check_fast(with_name(m("StatisticValues", iobj(m("Maximum", f64(2.5)) + m("Minimum", f64(-1e-3)) + m("Sum", f32(100)) + m("SampleCount", f16(0))))));
  check_fast(with_name(kOk + m("StatisticValues", obj(m("SampleCount", u(2)) + m("Sum", u(3)) + m("Minimum", u(1)) + m("Maximum", u(2)))) +
                       m("Values", arr({u(1)}))));
  // Every unit of the enum.
  for (const char* unit : {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits", "Kilobits",
                           "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
                           "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
                           "Terabits/Second", "Count/Second", "None"})
    check_fast(with_name(kOk + m("Unit", text(unit))));

  // Timestamps: tag 1 or plain; integers (every head width, non-minimal too, negative, beyond
  // int64), half/single/double floats; out-of-range ones are the handler's error.
  const std::vector<std::string> times = {
      u(1700000000), u(0), u(23), u(24), u(255), u(65536), u(4294967296ULL), u(9223372036854775807ULL), u(9223372036854775808ULL),
      u(18446744073709551615ULL), neg(0), neg(1700000000), neg(9223372036854775807ULL), neg(9223372036854775808ULL), neg(18446744073709551615ULL),
      head_wide(0, 27, 1700000000), head_wide(0, 24, 5), head_wide(0, 25, 5), head_wide(1, 26, 5), f64(1700000000.123456), f64(-0.0), f64(1e300),
      f64(5e-324), f32(1.7e9f), f32(0.25f), f16(0x3c00), f16(0x0001), f16(0x7bff), f16(0x8000)};
  for (const std::string& t : times) {
    check_fast(with_name(kOk + m("Timestamp", ts(t))));
    check_fast(with_name(kOk + m("Timestamp", t)));
  }
  check_fast(with_name(kOk + m("Timestamp", head_wide(6, 24, 1) + u(1700000000))));  // tag 1 in a wide head
  check_fast(with_name(kOk + m("Timestamp", head_wide(6, 27, 1) + f64(1.5))));

  // Numbers for doubles: integers of every width and sign, beyond int64, -0, halves (subnormal,
  // max, infinities, NaN), singles, doubles, extremes.
  const std::vector<std::string> numbers = {
      u(0), u(1), u(23), u(24), u(1000), u(123456789012345678ULL), u(9223372036854775807ULL), u(9223372036854775808ULL), u(18446744073709551615ULL),
      neg(0), neg(9223372036854775807ULL), neg(9223372036854775808ULL), neg(18446744073709551615ULL), head_wide(0, 27, 7), head_wide(1, 25, 7),
      f16(0x0000), f16(0x8000), f16(0x3c00), f16(0x0001), f16(0x03ff), f16(0x7bff), f16(0xfbff), f16(0x7c00), f16(0xfc00), f16(0x7e00), f16(0x7c01),
      f16(0xfe00), f32(0.1f), f32(-3.5f), f32(std::numeric_limits<float>::denorm_min()), f32(std::numeric_limits<float>::infinity()),
      f32(std::numeric_limits<float>::quiet_NaN()), f64(0.1), f64(-0.0), f64(1.7976931348623157e308), f64(-1.7976931348623157e308),
      f64(2.2250738585072014e-308), f64(4.9e-324), f64(std::numeric_limits<double>::infinity()), f64(std::numeric_limits<double>::quiet_NaN()),
      f64(3.141592653589793)};
  for (const std::string& v : numbers)
    check_fast(with_name(m("Value", v) + m("Values", arr({v})) + m("Counts", iarr({v, v})) +
                         m("StatisticValues", obj(m("SampleCount", v) + m("Sum", v) + m("Minimum", v) + m("Maximum", v)))));
  // StorageResolution: integers (any head width) and integral floats within [1, INT32_MAX].
  for (const std::string& r : {u(1), u(5), u(60), u(2147483647), head_wide(0, 27, 60), head_wide(0, 25, 1), f16(0x3c00), f16(0x5380), f32(60.0f),
                               f64(1.0), f64(2147483647.0)})
    check_fast(with_name(kOk + m("StorageResolution", r)));

  // Unicode in names and dimensions (1 to 4 bytes per character, NUL and controls included).
  check_fast(with_name(kOk + m("Dimensions", arr({obj(m("Name", text(std::string("h\xc3\xa9llo \"q\" \\ \b\f\n\r\t ") + std::string(1, '\0'))) +
                                                      m("Value", text("\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x9c\x93 \xef\xbf\xbf \xf4\x8f\xbf\xbf")))}))));
  check_fast(one(m("MetricName", text("\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80")) + kOk));
  check_fast(with_namespace(text("\xc3\xa9/ns")));
  check_fast(with_namespace(text("a:b")));
  check_fast(with_namespace(text("a:")));
  check_fast(with_namespace(text("\n:")));
  check_fast(with_namespace(text(" ")));
  check_fast(with_namespace(text(std::string(1, '\0'))));
  check_fast(with_namespace(text("\xf0\x9f\x98\x80:")));
  check_fast(with_namespace(text("\xc2\x80")));
  check_fast(with_namespace(text("AWS/EC2")));  // reserved: the handler's error, not the model's
  check_fast(with_namespace(head_wide(3, 27, 2) + "ns"));  // a non-minimal string head
  // Limits, just inside (characters, not bytes).
  check_fast(with_namespace(text(std::string(255, 'n'))));
  check_fast(with_namespace(text(repeat("\xc3\xa9", 255))));
  check_fast(with_namespace(text(repeat("\xf0\x9f\x98\x80", 255))));
  check_fast(one(m("MetricName", text(std::string(255, 'm'))) + kOk));
  check_fast(one(m("MetricName", text(repeat("\xe2\x9c\x93", 255))) + kOk));
  check_fast(with_name(kOk + m("Dimensions", dims_of(30))));
  {
    std::vector<std::string> dims;
    for (int k = 0; k < 30; ++k) dims.push_back(iobj(m("Name", text("n" + std::to_string(k))) + m("Value", text("v"))));
    check_fast(with_name(kOk + m("Dimensions", iarr(dims))));  // 30, indefinite
  }
  check_fast(with_name(kOk + m("Dimensions", arr({obj(m("Name", text(std::string(255, 'k'))) + m("Value", text(std::string(1024, 'v'))))}))));
  check_fast(with_name(kOk + m("Dimensions", arr({obj(m("Name", text(repeat("\xc3\xa9", 255))) + m("Value", text(repeat("\xe2\x9c\x93", 1024))))}))));
  check_fast(with_name(kOk + m("Dimensions", arr({obj(m("Name", text("a")) + m("Value", text("1"))), obj(m("Name", text("a")) + m("Value", text("2")))}))));
  check_fast(with_name(kOk + m("Dimensions", arr({}))));
  // Indefinite containers everywhere.
  check_fast(iobj(m("Namespace", text("ns")) + m("MetricData", iarr({iobj(kName + kOk + m("Dimensions", iarr({iobj(m("Name", text("a")) + m("Value", text("b")))})) +
                                                                       m("Values", iarr({u(1), f16(0x3c00)})))}))));
  // Big calls: the benchmark's 1 000 datums, 30 dimensions each, long Values lists.
  check_fast(batch(1));
  check_fast(batch(1000));
  check_fast(batch(3000));
  {
    std::vector<std::string> data;
    for (int k = 0; k < 1000; ++k)
      data.push_back(obj(m("MetricName", text("m" + std::to_string(k))) + m("Dimensions", dims_of(30, "dim", "value-" + std::to_string(k))) +
                         m("Values", arr({u(1), u(2), u(3)})) + m("Counts", arr({u(3), u(2), u(1)}))));
    check_fast(obj(m("Namespace", text("ns")) + m("MetricData", arr(data))));
    check_fast(obj(m("Namespace", text("ns")) + m("MetricData", iarr(data))));
  }
  {
    std::vector<std::string> values;
    for (int k = 0; k < 5000; ++k) values.push_back(k % 3 ? f64(k + 0.5) : u(static_cast<uint64_t>(k)));
    check_fast(with_name(m("Values", arr(values)) + m("Counts", iarr(values))));
  }
  // Shrinking and growing calls over the reused input (a 1 000-datum call left it big).
  check_fast(batch(2));
  check_fast(with_name(m("Values", arr({u(1)}))));
  check_fast(batch(1000));
  check_fast(with_name(kOk));
  std::printf("[ info     ] %zu bodies checked\n", checked_);
}

TEST_F(PutMetricDataCborFastPathTest, BrokenConstraintsAndTypesAreDeclined) {
  const std::string valid = with_name(kOk);
  std::vector<std::string> rejected = {
      // Malformed CBOR, non-map roots, empty bodies, trailing bytes.
      "", kNull, kUndefined, "\xa0", arr({}), text("x"), u(1), kBreak, "\x1c", "\xbf", "\xbf\xff\xff", valid + '\0', valid + valid, valid + kBreak,
      "\xa1" + u(1) + text("ns"), "\xa1" + bytes("Namespace") + text("ns"), obj(m("Namespace", text("ns")) + Members{1, kNull + u(1)}),
      "\xa2" + text("Namespace") + text("ns"),  // one pair short
      obj(m("Namespace", "\x7f" + text("n") + u(1) + kBreak)),  // a chunk of the wrong type
      // Namespace: required, 1-255 characters, pattern [^:].*, a text string, valid UTF-8.
      obj(m("MetricData", arr({obj(kName + kOk)}))), with_namespace(kNull), with_namespace(kUndefined), with_namespace(text("")),
      with_namespace(text(std::string(256, 'n'))), with_namespace(text(repeat("\xc3\xa9", 256))), with_namespace(text(":")), with_namespace(text(":a")),
      with_namespace(u(5)), with_namespace(kTrue), with_namespace(arr({})), with_namespace(obj({})), with_namespace(bytes("ns")),
      with_namespace(text("bad \xff utf8")), with_namespace(text("\xed\xa0\x80 surrogate")), with_namespace(text("\xc0\xaf overlong")),
      with_namespace(text("\xe0\x80\xaf overlong")), with_namespace(text("\xf0\x80\x80\xaf overlong")), with_namespace(text("\xf4\x90\x80\x80 big")),
      with_namespace(text("cut \xe2\x9c")), with_namespace(text("\x80 lone")), with_namespace(text("\xf8\x88\x80\x80\x80 five")),
      with_namespace(ts(text("ns"))), with_namespace(ts(u(1))),
      // MetricData and datums: types, MetricName required and 1-255 characters.
      obj(m("Namespace", text("ns")) + m("MetricData", obj({}))), obj(m("Namespace", text("ns")) + m("MetricData", text("x"))),
      obj(m("Namespace", text("ns")) + m("MetricData", arr({u(1)}))), obj(m("Namespace", text("ns")) + m("MetricData", arr({arr({})}))),
      obj(m("Namespace", text("ns")) + m("MetricData", arr({text("m")}))), obj(m("Namespace", text("ns")) + m("MetricData", arr({obj({})}))),
      obj(m("Namespace", text("ns")) + m("MetricData", head(4, 1000000))), obj(m("Namespace", text("ns")) + m("MetricData", head(4, 3) + obj(kName))),
      one(kOk), one(m("MetricName", kNull) + kOk), one(m("MetricName", text("")) + kOk), one(m("MetricName", text(std::string(256, 'm'))) + kOk),
      one(m("MetricName", text(repeat("\xe2\x9c\x93", 256))) + kOk), one(m("MetricName", u(5)) + kOk), one(m("MetricName", arr({text("m")})) + kOk),
      one(m("MetricName", bytes("m")) + kOk), one(m("MetricName", text("\xff")) + kOk),
      // Dimensions: at most 30, Name 1-255 and Value 1-1024 both required, text strings.
      with_name(kOk + m("Dimensions", dims_of(31))), with_name(kOk + m("Dimensions", iarr(std::vector<std::string>(31, obj(m("Name", text("a")) + m("Value", text("b"))))))),
      with_name(kOk + m("Dimensions", obj({}))), with_name(kOk + m("Dimensions", text("a"))), with_name(kOk + m("Dimensions", arr({obj({})}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("a")))}))), with_name(kOk + m("Dimensions", arr({obj(m("Value", text("a")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("")) + m("Value", text("v")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("n")) + m("Value", text("")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text(std::string(256, 'k'))) + m("Value", text("v")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("n")) + m("Value", text(std::string(1025, 'v'))))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("n")) + m("Value", text(repeat("\xc3\xa9", 1025))))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("n")) + m("Value", u(5)))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", u(1)) + m("Value", text("v")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", kNull) + m("Value", text("v")))}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", bytes("n")) + m("Value", text("v")))}))),
      with_name(kOk + m("Dimensions", arr({arr({text("n"), text("v")})}))), with_name(kOk + m("Dimensions", arr({text("n")}))),
      with_name(kOk + m("Dimensions", arr({u(1)}))),
      // StatisticValues: all four required, numbers.
      with_name(m("StatisticValues", obj(m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(1)) + m("Sum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(1)) + m("Sum", u(1)) + m("Minimum", u(1))))), with_name(m("StatisticValues", obj({}))),
      with_name(m("StatisticValues", obj(m("SampleCount", kNull) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", text("1")) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", kTrue) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", obj(m("SampleCount", ts(u(1))) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      with_name(m("StatisticValues", arr({u(1), u(2), u(3), u(4)}))), with_name(m("StatisticValues", u(1))),
      // Numbers: wrong types, tag 1 (a Timestamp is no double), bytes.
      with_name(m("Value", text("1"))), with_name(m("Value", kTrue)), with_name(m("Value", arr({u(1)}))), with_name(m("Value", obj({}))),
      with_name(m("Value", bytes("1"))), with_name(m("Value", ts(u(1)))), with_name(m("Value", ts(f64(1.5)))), with_name(m("Values", u(1))),
      with_name(m("Values", arr({text("1")}))), with_name(m("Values", arr({kTrue}))), with_name(m("Values", arr({arr({u(1)})}))),
      with_name(m("Values", obj({}))), with_name(m("Values", arr({ts(u(1))}))), with_name(m("Counts", u(1))), with_name(m("Counts", arr({text("x")}))),
      with_name(m("Counts", arr({obj({})}))), with_name(m("Value", "\x1f")), with_name(m("Value", "\x3f")), with_name(m("Value", "\x1b\x01")),
      // Timestamps: wrong types, non-finite, a tag in tag 1.
      with_name(kOk + m("Timestamp", kTrue)), with_name(kOk + m("Timestamp", arr({}))), with_name(kOk + m("Timestamp", text("2023-11-14T22:13:20Z"))),
      with_name(kOk + m("Timestamp", text(""))), with_name(kOk + m("Timestamp", bytes("1"))), with_name(kOk + m("Timestamp", ts(text("1700000000")))),
      with_name(kOk + m("Timestamp", ts(f16(0x7e00)))), with_name(kOk + m("Timestamp", ts(f16(0x7c00)))), with_name(kOk + m("Timestamp", ts(f64(-INFINITY)))),
      with_name(kOk + m("Timestamp", f16(0x7e00))), with_name(kOk + m("Timestamp", f32(INFINITY))), with_name(kOk + m("Timestamp", f64(NAN))),
      with_name(kOk + m("Timestamp", ts(ts(u(5))))), with_name(kOk + m("Timestamp", ts(kNull))), with_name(kOk + m("Timestamp", ts(kTrue))),
      with_name(kOk + m("Timestamp", "\xdf" + u(1))),
      // Unit: the enum, exactly.
      with_name(kOk + m("Unit", text("count"))), with_name(kOk + m("Unit", text("Counts"))), with_name(kOk + m("Unit", text(""))),
      with_name(kOk + m("Unit", text("Count "))), with_name(kOk + m("Unit", text(std::string("Count") + '\0'))), with_name(kOk + m("Unit", u(5))),
      with_name(kOk + m("Unit", arr({text("Count")}))), with_name(kOk + m("Unit", bytes("Count"))), with_name(kOk + m("Unit", text("\xff"))),
      // StorageResolution: an int32, min 1.
      with_name(kOk + m("StorageResolution", u(0))), with_name(kOk + m("StorageResolution", neg(0))), with_name(kOk + m("StorageResolution", f64(0.0))),
      with_name(kOk + m("StorageResolution", f64(-0.0))), with_name(kOk + m("StorageResolution", f64(0.5))), with_name(kOk + m("StorageResolution", f64(1.5))),
      with_name(kOk + m("StorageResolution", u(2147483648ULL))), with_name(kOk + m("StorageResolution", neg(2147483648ULL))),
      with_name(kOk + m("StorageResolution", u(9223372036854775807ULL))), with_name(kOk + m("StorageResolution", u(18446744073709551615ULL))),
      with_name(kOk + m("StorageResolution", neg(18446744073709551615ULL))), with_name(kOk + m("StorageResolution", f64(1e19))),
      with_name(kOk + m("StorageResolution", f64(2147483648.0))), with_name(kOk + m("StorageResolution", f16(0x7c00))),
      with_name(kOk + m("StorageResolution", f16(0x7e00))), with_name(kOk + m("StorageResolution", f16(0x3800))),
      with_name(kOk + m("StorageResolution", text("60"))), with_name(kOk + m("StorageResolution", kTrue)), with_name(kOk + m("StorageResolution", ts(u(60)))),
      // StrictEntityValidation: a boolean. EntityMetricData: its own constraints.
      one(kName + kOk, m("StrictEntityValidation", text("true"))), one(kName + kOk, m("StrictEntityValidation", u(1))),
      one(kName + kOk, m("StrictEntityValidation", "\xf8\x15")),  // a two-byte simple value below 32
      one(kName + kOk, m("EntityMetricData", obj({}))), one(kName + kOk, m("EntityMetricData", arr({u(1)}))),
      one(kName + kOk, m("EntityMetricData", arr({obj(m("MetricData", arr({obj({})})))}))),
      // Too deep for cbor::decode (64 levels), in an unknown member.
      one(kName + kOk, m("x", repeat("\x81", 100) + "\x80")),
  };
  // Every truncation of botocore's body, and of one using indefinite lengths.
  const std::string boto = unhex(kBotocoreBody);
  for (size_t n = 0; n < boto.size(); ++n) rejected.push_back(boto.substr(0, n));
  const std::string indefinite = iobj(m("Namespace", text("ns")) + m("MetricData", iarr({iobj(kName + kOk + m("Values", iarr({u(1)})))})));
  for (size_t n = 0; n < indefinite.size(); ++n) rejected.push_back(indefinite.substr(0, n));
  for (const auto& body : rejected) check_rejected(body);

  // Odd but possibly accepted by the generic path (nulls and undefined as absent, unknown
  // members, duplicates, which CborCodec resolves to the first non-null one without
  // converting the others, transparent tags, chunked strings, EntityMetricData): the decoder
  // may decline.
  std::vector<std::string> odd = {
      obj(m("Namespace", text("ns")) + m("MetricData", kNull)), obj(m("Namespace", text("ns")) + m("MetricData", arr({kNull}))),
      with_name(kOk + m("Dimensions", kNull)), with_name(kOk + m("Dimensions", arr({kNull}))), with_name(m("Value", kNull)),
      with_name(m("Value", kUndefined)), with_name(m("Value", "\xe0")), with_name(m("Value", "\xf3")), with_name(m("Value", "\xf8\x20")),
      with_name(m("Value", "\xf8\xff")), with_name(kOk + m("Timestamp", kNull)), with_name(kOk + m("Unit", kNull)),
      with_name(kOk + m("StorageResolution", kNull)), with_name(m("Values", arr({u(1), kNull})) + m("Counts", arr({kNull, u(1)}))),
      with_name(m("StatisticValues", kNull)), with_name(kOk + m("Values", kNull) + m("Counts", kNull)), one(kName + kOk, m("StrictEntityValidation", kNull)),
      one(kName + kOk, m("EntityMetricData", kNull)), one(kName + kOk, m("EntityMetricData", arr({}))), one(kName + kOk, m("EntityMetricData", arr({obj({})}))),
      one(kName + kOk, m("EntityMetricData", arr({obj(m("Entity", obj(m("KeyAttributes", obj(m("Type", text("Service")) + m("Name", text("a")))))) +
                                                     m("MetricData", arr({obj(kName + kOk)})))}))),
      one(kName + kOk, m("Unknown", u(1))), one(kName + kOk, m("namespace", text("x"))), with_name(kOk + m("Extra", obj(m("a", arr({u(1), kNull}))))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(1)) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1)) + m("Extra", text("x"))))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("n")) + m("Value", text("v")) + m("Extra", u(1)))}))),
      one(kName + kOk, m("x", repeat("\x81", 60) + "\x80")), one(kName + kOk, m("x", bytes("\xff"))), one(kName + kOk, m("x", text("\xff"))),
      // Duplicates (the generic path keeps the first non-null one and skips the rest unconverted).
      obj(m("Namespace", text("a")) + m("Namespace", text("b"))),
      obj(m("Namespace", text("ns")) + m("Namespace", u(5))), obj(m("Namespace", kNull) + m("Namespace", text("ns"))),
      obj(m("Namespace", text("ns")) + m("Namespace", kNull)), one(m("MetricName", text("a")) + m("MetricName", text("b")) + kOk),
      with_name(kOk + m("Value", text("x"))), with_name(kOk + m("Value", u(2))), with_name(kOk + m("Unit", text("Count")) + m("Unit", text("bad"))),
      with_name(kOk + m("Dimensions", arr({})) + m("Dimensions", obj({}))),
      with_name(kOk + m("Dimensions", arr({obj(m("Name", text("a")) + m("Name", text("b")) + m("Value", text("v")))}))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(1)) + m("SampleCount", u(2)) + m("Sum", u(1)) + m("Minimum", u(1)) + m("Maximum", u(1))))),
      obj(m("Namespace", text("ns")) + m("MetricData", arr({})) + m("MetricData", arr({obj(kName)}))),
      one(kName + kOk, m("StrictEntityValidation", kTrue) + m("StrictEntityValidation", kFalse)),
      // Transparent tags, chunked strings, keys in odd forms.
      tag(55799, valid), with_namespace(tag(32, text("ns"))), with_name(m("Value", tag(2, u(1)))), with_name(kOk + m("Timestamp", tag(0, u(1)))),
      with_name(kOk + m("Timestamp", ts(tag(5, u(1))))), with_name(m("Values", arr({tag(4, u(1))}))),
      with_namespace("\x7f" + text("n") + text("s") + kBreak), with_namespace("\x7f\xff"), with_namespace("\x7f" + text("\xc3") + text("\xa9") + kBreak),
      obj(Members{1, "\x7f" + text("Name") + text("space") + kBreak + text("ns")}), obj(Members{1, tag(7, text("Namespace")) + text("ns")}),
      obj(Members{1, head_wide(3, 24, 9) + "Namespace" + text("ns")}),
  };
  for (const auto& body : odd) check(body);
  std::printf("[ info     ] %zu rejected + %zu odd bodies checked\n", rejected.size(), odd.size());
}

// Random byte edits of valid bodies (deterministic): whatever the decoder takes, the generic
// path takes identically.
TEST_F(PutMetricDataCborFastPathTest, RandomMutationsAgree) {
  const std::vector<std::string> seeds = {
      unhex(kBotocoreBody),
      with_name(m("Dimensions", arr({obj(m("Name", text("a")) + m("Value", text("b"))), iobj(m("Name", text("c")) + m("Value", text("\xc3\xa9")))})) +
                m("Timestamp", ts(f64(1700000000.5))) + m("Value", f16(0x3e00)) + m("Unit", text("Count")) + m("StorageResolution", u(1))),
      with_name(m("Values", iarr({u(1), f32(2.5f), neg(299)})) + m("Counts", arr({u(1), u(2), u(3)})) + m("Timestamp", u(1700000000))),
      with_name(m("StatisticValues", obj(m("SampleCount", u(2)) + m("Sum", u(3)) + m("Minimum", u(1)) + m("Maximum", u(2)))) + m("Unit", text("Bytes/Second"))),
      one(kName + kOk, m("StrictEntityValidation", kTrue)),
      batch(3),
  };
  // Bytes that are heads of every kind: small ints, wide heads, strings, containers (definite,
  // indefinite, break), tags, simple values and floats.
  static const char kHeads[] =
      "\x00\x01\x17\x18\x19\x1a\x1b\x1c\x1f\x20\x38\x3f\x40\x41\x5f\x60\x61\x63\x64\x65\x78\x7f\x80\x81\x83"
      "\x9f\xa0\xa1\xa2\xbf\xc0\xc1\xd8\xdf\xe0\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xff\xc3\xa9\x3a";
  const std::string alphabet = std::string(kHeads, sizeof kHeads - 1) + "NamespaceValueMetric";
  const std::vector<std::string> tokens = {kNull, kUndefined, kBreak, "\xc1", "\xbf", "\x9f", "\xa0", "\x80", f16(0x7e00), f16(0x3c00), f32(1.5f),
                                           f64(-0.0), u(4294967296ULL), neg(0), text("Value"), text("Values"), text("Dimensions"), text("Unit"),
                                           text("Count"), text("StorageResolution"), text("EntityMetricData"), text("MetricName") + text("x"),
                                           text(":"), text(""), bytes("x"), tag(55799, ""), text("\xed\xa0\x80")};
  std::mt19937 rng(20240611);
  size_t fast = 0;
  const int kRounds = 8000;
  for (int round = 0; round < kRounds; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 6) {
        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: body.insert(body.begin() + long(at), alphabet[rng() % alphabet.size()]); break;
        case 2: body.insert(at, tokens[rng() % tokens.size()]); break;
        case 3: body[at] = static_cast<char>(body[at] + (rng() % 2 ? 1 : -1)); break;  // a count or length off by one
        case 4: body[at] = static_cast<char>(rng()); break;
        default: body.erase(at, 1 + rng() % 4); break;
      }
    }
    fast += check(body).fast;
  }
  std::printf("[ info     ] %d mutated bodies, %zu taken by the fast decoder\n", kRounds, fast);
  EXPECT_GT(fast, size_t(kRounds / 50));  // some mutations still reach acceptance
}

// Random requests assembled from valid and broken member values (deterministic), in random
// order, definite or indefinite, with the odd duplicate or unknown member: reaches every
// member's edge in combination.
TEST_F(PutMetricDataCborFastPathTest, RandomCompositionsAgree) {
  struct Pool {
    const char* key;
    std::vector<std::string> good, bad;
  };
  const std::vector<Pool> datum_pools = {
      {"MetricName", {text("m"), text("\xc3\xa9"), text(std::string(255, 'm'))}, {text(""), text(std::string(256, 'm')), u(5), kNull, bytes("m")}},
      {"Dimensions",
       {arr({}), iarr({}), dims_of(1), dims_of(30), arr({obj(m("Name", text("\xc3\xa9")) + m("Value", text(std::string(1024, 'v'))))})},
       {dims_of(31), arr({obj(m("Name", text("a")))}), arr({obj(m("Name", text("")) + m("Value", text("v")))}), arr({kNull}), kNull, obj({})}},
      {"Timestamp",
       {ts(u(1700000000)), ts(f64(1700000000.25)), u(1700000000), f64(1.7e9), f16(0x8000), ts(neg(5)), ts(f32(2.5f))},
       {text("2023-11-14T22:13:20Z"), kTrue, kNull, ts(f16(0x7e00)), f64(INFINITY), tag(2, u(1))}},
      {"Value",
       {u(1), f64(-2.5), f64(1e300), u(18446744073709551615ULL), f64(-0.0), f16(0x7e00), f32(0.1f), neg(18446744073709551615ULL)},
       {text("NaN"), text("1"), kNull, arr({}), ts(u(1))}},
      {"StatisticValues",
       {obj(m("SampleCount", u(1)) + m("Sum", u(2)) + m("Minimum", u(0)) + m("Maximum", u(2))),
        iobj(m("Maximum", u(1)) + m("Minimum", u(1)) + m("Sum", f64(1.5)) + m("SampleCount", f16(0x3c00)))},
       {obj(m("SampleCount", u(1))), obj({}), kNull, obj(m("SampleCount", u(1)) + m("Sum", u(2)) + m("Minimum", u(0)) + m("Maximum", text("x")))}},
      {"Values", {arr({}), arr({u(1)}), iarr({u(1), f64(2.5), f32(3e3f)})}, {arr({kNull}), arr({text("1")}), kNull, u(1)}},
      {"Counts", {arr({}), arr({u(1)}), arr({u(0), u(2)})}, {arr({kNull}), arr({kTrue}), kNull}},
      {"Unit", {text("Count"), text("None"), text("Bytes/Second")}, {text("count"), text(""), kNull, u(1)}},
      {"StorageResolution", {u(1), u(60), u(2147483647), f64(60.0)}, {u(0), neg(0), f64(1.5), u(2147483648ULL), text("60"), kNull}},
  };
  const std::vector<std::string> namespaces = {text("ns"), text("a:b"), text("\xc3\xa9"), text(std::string(255, 'n')), text(""), text(":a"),
                                               text(std::string(256, 'n')), u(5), kNull, bytes("ns")};
  std::mt19937 rng(7);
  auto pick = [&rng](const std::vector<std::string>& v) -> const std::string& { return v[rng() % v.size()]; };
  auto shuffled = [&rng](std::vector<std::string> parts) {
    for (size_t k = parts.size(); k > 1; --k) std::swap(parts[k - 1], parts[rng() % k]);
    Members out;
    for (const auto& p : parts) out = out + Members{1, p};
    return out;
  };
  size_t fast = 0, generic = 0;
  const int kRounds = 4000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> root;
    if (rng() % 20) root.push_back(text("Namespace") + (rng() % 5 ? namespaces[rng() % 4] : pick(namespaces)));
    if (rng() % 10) {
      std::vector<std::string> data;
      int n = int(rng() % 4);
      for (int k = 0; k < n; ++k) {
        std::vector<std::string> members;
        for (const Pool& pool : datum_pools) {
          bool include = pool.key == std::string_view("MetricName") ? rng() % 20 != 0 : rng() % 3 == 0;
          if (!include) continue;
          members.push_back(text(pool.key) + (rng() % 12 ? pick(pool.good) : pick(pool.bad)));
          if (rng() % 40 == 0) members.push_back(text(pool.key) + pick(pool.good));  // duplicate
        }
        if (rng() % 40 == 0) members.push_back(text("Other") + u(1));
        Members datum = shuffled(members);
        data.push_back(rng() % 4 ? obj(datum) : iobj(datum));
      }
      root.push_back(text("MetricData") + (rng() % 4 ? arr(data) : iarr(data)));
    }
    if (rng() % 10 == 0) root.push_back(text("StrictEntityValidation") + (rng() % 2 ? kTrue : kFalse));
    if (rng() % 30 == 0) root.push_back(text("EntityMetricData") + arr({}));
    Members members = shuffled(root);
    Result r = check(rng() % 5 ? obj(members) : iobj(members));
    fast += r.fast;
    generic += r.generic;
  }
  std::printf("[ info     ] %d composed bodies: %zu valid, %zu taken by the fast decoder\n", kRounds, generic, fast);
  EXPECT_GT(fast, size_t(kRounds / 4));
}

// Not a benchmark (no assertion): the order of magnitude of both paths on botocore's shape of
// a 1 000-datum call, for the record.
TEST_F(PutMetricDataCborFastPathTest, ThroughputForTheRecord) {
  const std::string body = batch(1000);
  PutMetricDataInput in;
  const int kFastRounds = 200, kGenericRounds = 10;
  auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < kFastRounds; ++k) ASSERT_TRUE(decode_put_metric_data_cbor(body, in));
  auto mid = std::chrono::steady_clock::now();
  std::string error;
  for (int k = 0; k < kGenericRounds; ++k) ASSERT_TRUE(run_generic(body, error)) << error;
  auto end = std::chrono::steady_clock::now();
  double fast_s = std::chrono::duration<double>(mid - start).count() / kFastRounds;
  double generic_s = std::chrono::duration<double>(end - mid).count() / kGenericRounds;
  std::printf("[ info     ] 1000-datum body (%zu bytes): fast %.0f us, generic %.0f us per call\n", body.size(), fast_s * 1e6, generic_s * 1e6);
}

}  // namespace
}  // namespace vigil::cloudwatch
