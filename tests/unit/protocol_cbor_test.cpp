// CBOR (RFC 8949; the decoding vectors are those of its Appendix A) and the smithy
// rpc-v2-cbor protocol. Request bodies were captured from botocore 1.43's RpcV2CBORSerializer
// (CloudWatch model); every response below was parsed by its RpcV2CBORParser into the
// expected result or ClientError code.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/encoding.h"
#include "protocol/cbor.h"
#include "protocol/cbor_codec.h"
#include "protocol/codec.h"
#include "protocol/schema.h"

namespace vigil::protocol {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

Value M(std::initializer_list<std::pair<std::string, Value>> items) {
  Value v = Value::map();
  for (const auto& [k, item] : items) v.as_map().emplace_back(k, item);
  return v;
}

Value L(std::initializer_list<Value> items) {
  Value v = Value::list();
  for (const auto& item : items) v.as_list().push_back(item);
  return v;
}

Value dec(std::string_view hex) { return cbor::decode(unhex(hex)); }

// ---- RFC 8949 Appendix A ------------------------------------------------------------------

TEST(CborDecodeTest, Integers) {
  EXPECT_EQ(dec("00"), Value(0));
  EXPECT_EQ(dec("01"), Value(1));
  EXPECT_EQ(dec("0a"), Value(10));
  EXPECT_EQ(dec("17"), Value(23));
  EXPECT_EQ(dec("1818"), Value(24));
  EXPECT_EQ(dec("1819"), Value(25));
  EXPECT_EQ(dec("1864"), Value(100));
  EXPECT_EQ(dec("1903e8"), Value(1000));
  EXPECT_EQ(dec("1a000f4240"), Value(1000000));
  EXPECT_EQ(dec("1b000000e8d4a51000"), Value(int64_t{1000000000000}));
  EXPECT_EQ(dec("1b7fffffffffffffff"), Value(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(dec("1bffffffffffffffff"), Value(18446744073709551615.0));  // beyond int64: a Double
  EXPECT_EQ(dec("20"), Value(-1));
  EXPECT_EQ(dec("29"), Value(-10));
  EXPECT_EQ(dec("3863"), Value(-100));
  EXPECT_EQ(dec("3903e7"), Value(-1000));
  EXPECT_EQ(dec("3b7fffffffffffffff"), Value(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(dec("3bffffffffffffffff"), Value(-18446744073709551616.0));
}

TEST(CborDecodeTest, Floats) {
  EXPECT_EQ(dec("f90000"), Value(0.0));
  EXPECT_TRUE(std::signbit(dec("f98000").as_double()));
  EXPECT_EQ(dec("f93c00"), Value(1.0));
  EXPECT_EQ(dec("fb3ff199999999999a"), Value(1.1));
  EXPECT_EQ(dec("f93e00"), Value(1.5));
  EXPECT_EQ(dec("f97bff"), Value(65504.0));
  EXPECT_EQ(dec("fa47c35000"), Value(100000.0));
  EXPECT_EQ(dec("fa7f7fffff"), Value(3.4028234663852886e+38));
  EXPECT_EQ(dec("fb7e37e43c8800759c"), Value(1.0e+300));
  EXPECT_EQ(dec("f90001"), Value(5.960464477539063e-8));
  EXPECT_EQ(dec("f90400"), Value(0.00006103515625));
  EXPECT_EQ(dec("f9c400"), Value(-4.0));
  EXPECT_EQ(dec("fbc010666666666666"), Value(-4.1));
  EXPECT_EQ(dec("f97c00"), Value(std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(std::isnan(dec("f97e00").as_double()));
  EXPECT_EQ(dec("f9fc00"), Value(-std::numeric_limits<double>::infinity()));
  EXPECT_EQ(dec("fa7f800000"), Value(std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(std::isnan(dec("fa7fc00000").as_double()));
  EXPECT_EQ(dec("fbfff0000000000000"), Value(-std::numeric_limits<double>::infinity()));
  EXPECT_EQ(cbor::half_to_double(0x3555), 0.333251953125);
}

TEST(CborDecodeTest, SimpleValuesAndTags) {
  EXPECT_EQ(dec("f4"), Value(false));
  EXPECT_EQ(dec("f5"), Value(true));
  EXPECT_EQ(dec("f6"), Value());
  EXPECT_EQ(dec("f7"), Value());    // undefined
  EXPECT_EQ(dec("f0"), Value());    // simple(16)
  EXPECT_EQ(dec("f8ff"), Value());  // simple(255)
  EXPECT_EQ(dec("c11a514b67b0"), Value(Timestamp{1363896240}));
  EXPECT_EQ(dec("c1fb41d452d9ec200000"), Value(Timestamp{1363896240.5}));
  EXPECT_EQ(dec("d74401020304"), Value(Blob{unhex("01020304")}));  // tag 23: transparent
  EXPECT_EQ(dec("d818456449455446"), Value(Blob{"dIETF"}));
  EXPECT_EQ(dec("d82076687474703a2f2f7777772e6578616d706c652e636f6d"), Value("http://www.example.com"));
  EXPECT_EQ(dec("c074323031332d30332d32315432303a30343a30305a"), Value("2013-03-21T20:04:00Z"));  // tag 0: the text
}

TEST(CborDecodeTest, Strings) {
  EXPECT_EQ(dec("40"), Value(Blob{""}));
  EXPECT_EQ(dec("4401020304"), Value(Blob{unhex("01020304")}));
  EXPECT_EQ(dec("60"), Value(""));
  EXPECT_EQ(dec("6161"), Value("a"));
  EXPECT_EQ(dec("6449455446"), Value("IETF"));
  EXPECT_EQ(dec("62225c"), Value("\"\\"));
  EXPECT_EQ(dec("62c3bc"), Value("\xc3\xbc"));
  EXPECT_EQ(dec("63e6b0b4"), Value("\xe6\xb0\xb4"));
  EXPECT_EQ(dec("64f0908591"), Value("\xf0\x90\x85\x91"));
  EXPECT_EQ(dec("5f42010243030405ff"), Value(Blob{unhex("0102030405")}));
  EXPECT_EQ(dec("7f657374726561646d696e67ff"), Value("streaming"));
  EXPECT_EQ(dec("5fff"), Value(Blob{""}));
}

TEST(CborDecodeTest, ArraysAndMaps) {
  EXPECT_EQ(dec("80"), Value::list());
  EXPECT_EQ(dec("83010203"), L({1, 2, 3}));
  EXPECT_EQ(dec("8301820203820405"), L({1, L({2, 3}), L({4, 5})}));
  Value twenty_five = Value::list();
  for (int i = 1; i <= 25; ++i) twenty_five.push(Value(i));
  EXPECT_EQ(dec("98190102030405060708090a0b0c0d0e0f101112131415161718181819"), twenty_five);
  EXPECT_EQ(dec("a0"), Value::map());
  EXPECT_EQ(dec("a26161016162820203"), M({{"a", 1}, {"b", L({2, 3})}}));
  EXPECT_EQ(dec("826161a161626163"), L({"a", M({{"b", "c"}})}));
  EXPECT_EQ(dec("a56161614161626142616361436164614461656145"), M({{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}, {"e", "E"}}));
  // Indefinite lengths.
  EXPECT_EQ(dec("9fff"), Value::list());
  EXPECT_EQ(dec("9f018202039f0405ffff"), L({1, L({2, 3}), L({4, 5})}));
  EXPECT_EQ(dec("9f01820203820405ff"), L({1, L({2, 3}), L({4, 5})}));
  EXPECT_EQ(dec("83018202039f0405ff"), L({1, L({2, 3}), L({4, 5})}));
  EXPECT_EQ(dec("83019f0203ff820405"), L({1, L({2, 3}), L({4, 5})}));
  EXPECT_EQ(dec("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff"), twenty_five);
  EXPECT_EQ(dec("bf61610161629f0203ffff"), M({{"a", 1}, {"b", L({2, 3})}}));
  EXPECT_EQ(dec("826161bf61626163ff"), L({"a", M({{"b", "c"}})}));
  EXPECT_EQ(dec("bf6346756ef563416d7421ff"), M({{"Fun", true}, {"Amt", -2}}));
}

TEST(CborDecodeTest, RejectsMalformedInput) {
  const char* bad[] = {
      "",                      // nothing
      "18",                    // missing argument byte
      "1a0000",                // short argument
      "1c",                    // reserved additional information 28
      "1f",                    // indefinite integer
      "ff",                    // break outside an indefinite item
      "62c3",                  // text shorter than its length
      "5b7fffffffffffffff",    // byte string claiming 2^63 bytes
      "9b7fffffffffffffff",    // array claiming 2^63 items
      "bb7fffffffffffffff",    // map claiming 2^63 pairs
      "9f01",                  // unterminated indefinite array
      "5f6161ff",              // text chunk inside an indefinite byte string
      "5f5f4101ffff",          // nested indefinite chunk
      "a201020304",            // integer map keys (Value maps are keyed by text)
      "62c328",                // invalid UTF-8
      "63eda080",              // UTF-16 surrogate in UTF-8
      "62c0af",                // overlong encoding
      "c16161",                // tag 1 on a text string
      "f818",                  // two-byte simple value below 32
      "fc",                    // reserved
      "0101",                  // trailing bytes
      "a16161",                // map value missing
  };
  for (const char* hex : bad) EXPECT_THROW(dec(hex), cbor::DecodeError) << hex;
}

TEST(CborDecodeTest, BoundsNesting) {
  std::string deep(100000, '\x81');
  deep += '\x01';
  EXPECT_THROW(cbor::decode(deep), cbor::DecodeError);
  std::string tags(100000, '\xc6');
  tags += '\x01';
  EXPECT_THROW(cbor::decode(tags), cbor::DecodeError);
  std::string ok(64, '\x81');  // 64 nested arrays: the default limit
  ok += '\x01';
  EXPECT_NO_THROW(cbor::decode(ok));
  EXPECT_THROW(cbor::decode("\x81" + ok), cbor::DecodeError);
  cbor::DecodeOptions shallow;
  shallow.max_depth = 2;
  EXPECT_NO_THROW(cbor::decode(unhex("818101"), shallow));
  EXPECT_THROW(cbor::decode(unhex("81818101"), shallow), cbor::DecodeError);
}

TEST(CborDecodeTest, DecodePrefixReportsLength) {
  size_t consumed = 0;
  EXPECT_EQ(cbor::decode_prefix(unhex("8201026161"), consumed), L({1, 2}));
  EXPECT_EQ(consumed, 3u);
}

// ---- encoding -----------------------------------------------------------------------------

TEST(CborEncodeTest, SmallestHeads) {
  EXPECT_EQ(hex_encode(cbor::encode(Value(0))), "00");
  EXPECT_EQ(hex_encode(cbor::encode(Value(23))), "17");
  EXPECT_EQ(hex_encode(cbor::encode(Value(24))), "1818");
  EXPECT_EQ(hex_encode(cbor::encode(Value(1000))), "1903e8");
  EXPECT_EQ(hex_encode(cbor::encode(Value(1000000))), "1a000f4240");
  EXPECT_EQ(hex_encode(cbor::encode(Value(int64_t{1000000000000}))), "1b000000e8d4a51000");
  EXPECT_EQ(hex_encode(cbor::encode(Value(-1))), "20");
  EXPECT_EQ(hex_encode(cbor::encode(Value(-1000))), "3903e7");
  EXPECT_EQ(hex_encode(cbor::encode(Value(std::numeric_limits<int64_t>::min()))), "3b7fffffffffffffff");
  EXPECT_EQ(hex_encode(cbor::encode(Value(1.5))), "fb3ff8000000000000");
  EXPECT_EQ(hex_encode(cbor::encode(Value("IETF"))), "6449455446");
  EXPECT_EQ(hex_encode(cbor::encode(Value(Blob{unhex("01020304")}))), "4401020304");
  EXPECT_EQ(hex_encode(cbor::encode(Value(Timestamp{1363896240}))), "c11a514b67b0");
  EXPECT_EQ(hex_encode(cbor::encode(Value(Timestamp{1363896240.5}))), "c1fb41d452d9ec200000");
  EXPECT_EQ(hex_encode(cbor::encode(Value(Timestamp{-1}))), "c120");
  EXPECT_EQ(hex_encode(cbor::encode(M({{"a", 1}, {"b", L({2, 3})}}))), "a26161016162820203");
  EXPECT_EQ(hex_encode(cbor::encode(Value())), "f6");
  EXPECT_EQ(hex_encode(cbor::encode(Value(true))), "f5");
  EXPECT_EQ(hex_encode(cbor::encode(Value(false))), "f4");
  std::string long_text(300, 'x');
  EXPECT_EQ(hex_encode(cbor::encode(Value(long_text))).substr(0, 6), "79012c");
}

TEST(CborEncodeTest, RoundTripsEveryKind) {
  Value all = M({
      {"null", Value()},
      {"true", true},
      {"false", false},
      {"zero", 0},
      {"small", 23},
      {"byte", 255},
      {"short", 65535},
      {"word", int64_t{4294967295}},
      {"long", int64_t{4294967296}},
      {"max", std::numeric_limits<int64_t>::max()},
      {"min", std::numeric_limits<int64_t>::min()},
      {"negative", -24},
      {"negative2", -25},
      {"double", 3.141592653589793},
      {"tiny", 5e-324},
      {"inf", std::numeric_limits<double>::infinity()},
      {"text", "h\xc3\xa9llo \xe6\xb0\xb4"},
      {"empty", ""},
      {"blob", Blob{std::string("\0\xff\x01", 3)}},
      {"ts", Timestamp{1767323045}},
      {"ts_fraction", Timestamp{1767323045.123}},
      {"list", L({1, "two", L({}), M({})})},
      {"nested", M({{"deeper", M({{"deepest", L({Value(), 1.25})}})}})},
  });
  std::string bytes = cbor::encode(all);
  EXPECT_EQ(cbor::decode(bytes), all);
  Value big_list = Value::list();
  for (int i = 0; i < 70000; ++i) big_list.push(Value(i));
  EXPECT_EQ(cbor::decode(cbor::encode(big_list)), big_list);
}

// ---- the rpc-v2-cbor protocol ----------------------------------------------------------------

class CborCodecTest : public ::testing::Test {
 protected:
  // The models the server itself embeds (schema/*.json, compiled in).
  static void SetUpTestSuite() { model_ = embedded_model("cloudwatch"); }

  static HttpRequest request(const std::string& op, std::string body) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/service/GraniteServiceVersion20100801/operation/" + op;
    r.headers = {{"smithy-protocol", "rpc-v2-cbor"}, {"accept", "application/cbor"}, {"content-type", "application/cbor"}, {"x-amzn-query-mode", "true"}};
    r.body = std::move(body);
    return r;
  }

  std::pair<std::string, Value> decode(const HttpRequest& r) {
    const Operation& op = codec_.resolve_operation(r);
    return {op.name, codec_.decode_request(r, op)};
  }

  AwsError decode_error(const HttpRequest& r) {
    try {
      decode(r);
    } catch (const AwsError& e) {
      return e;
    }
    ADD_FAILURE() << "no error";
    return AwsError("none", "none");
  }

  static const ServiceModel* model_;
  CborCodec codec_{*model_};
};

const ServiceModel* CborCodecTest::model_ = nullptr;

TEST_F(CborCodecTest, PutMetricDataFromBotocore) {
  auto [op, v] = decode(request(
      "PutMetricData",
      unhex("a2694e616d657370616365674170702f5765626a4d65747269634461746182a56a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e73"
            "81a2644e616d6564486f73746556616c7565636120626954696d657374616d70c11a695735a56556616c7565fb3ff800000000000064556e69746c4d696c"
            "6c697365636f6e6473a56a4d65747269634e616d6564486974736656616c75657382fb3ff0000000000000fb400400000000000066436f756e747382fb40"
            "08000000000000fb3ff00000000000007153746f726167655265736f6c7574696f6e016f53746174697374696356616c756573a46b53616d706c65436f75"
            "6e74fb40000000000000006353756dfb4008000000000000674d696e696d756dfb3ff0000000000000674d6178696d756dfb4000000000000000")));
  EXPECT_EQ(op, "PutMetricData");
  Value expected = M({
      {"Namespace", "App/Web"},
      {"MetricData",
       L({M({{"MetricName", "Latency"},
             {"Dimensions", L({M({{"Name", "Host"}, {"Value", "a b"}})})},
             {"Timestamp", Timestamp{1767323045}},
             {"Value", 1.5},
             {"Unit", "Milliseconds"}}),
          M({{"MetricName", "Hits"},
             {"Values", L({1.0, 2.5})},
             {"Counts", L({3.0, 1.0})},
             {"StorageResolution", 1},
             {"StatisticValues", M({{"SampleCount", 2.0}, {"Sum", 3.0}, {"Minimum", 1.0}, {"Maximum", 2.0}})}})})},
  });
  EXPECT_EQ(v, expected);
}

TEST_F(CborCodecTest, GetMetricDataDescribeAlarmsListMetrics) {
  auto [op, v] = decode(request(
      "GetMetricData",
      unhex("a4714d6574726963446174615175657269657381a3624964626d316a4d657472696353746174a3664d6574726963a3694e616d657370616365674170702f57"
            "65626a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7381a2644e616d6564486f73746556616c7565616166506572696f64183c64"
            "5374617467417665726167656a52657475726e44617461f569537461727454696d65c11a695735a567456e6454696d65c11a695742c06d4d617844617461"
            "706f696e74731864")));
  EXPECT_EQ(op, "GetMetricData");
  EXPECT_EQ(v, M({{"MetricDataQueries",
                   L({M({{"Id", "m1"},
                         {"MetricStat", M({{"Metric", M({{"Namespace", "App/Web"},
                                                         {"MetricName", "Latency"},
                                                         {"Dimensions", L({M({{"Name", "Host"}, {"Value", "a"}})})}})},
                                           {"Period", 60},
                                           {"Stat", "Average"}})},
                         {"ReturnData", true}})})},
                  {"StartTime", Timestamp{1767323045}},
                  {"EndTime", Timestamp{1767326400}},
                  {"MaxDatapoints", 100}}));

  auto [op2, v2] = decode(request("DescribeAlarms", unhex("a36a416c61726d4e616d6573826261316261326a537461746556616c756565414c41524d6a4d61785265636f7264730a")));
  EXPECT_EQ(op2, "DescribeAlarms");
  EXPECT_EQ(v2, M({{"AlarmNames", L({"a1", "a2"})}, {"StateValue", "ALARM"}, {"MaxRecords", 10}}));

  auto [op3, v3] = decode(request("ListMetrics", unhex("a2694e616d657370616365674157532f4543326a44696d656e73696f6e7381a1644e616d656a496e7374616e63654964")));
  EXPECT_EQ(v3, M({{"Namespace", "AWS/EC2"}, {"Dimensions", L({M({{"Name", "InstanceId"}})})}}));

  EXPECT_EQ(decode(request("ListDashboards", unhex("a0"))).second, Value::map());
  EXPECT_EQ(decode(request("ListDashboards", "")).second, Value::map());  // empty body allowed
}

TEST_F(CborCodecTest, AcceptsOtherValidEncodingsOfTheSameInput) {
  // Indefinite map/array/text, half floats, untagged and float timestamps, unknown and null members.
  std::string body = unhex(
      "bf694e616d6573706163657f634170706421576562ff6a4d6574726963446174619fbf6a4d65747269634e616d6561786556616c7565f93e006954696d657374616d70"
      "fb41da55cd69600000ffff65426f677573016c537472696374456e74697479f6ff");
  auto [op, v] = decode(request("PutMetricData", body));
  EXPECT_EQ(v, M({{"Namespace", "App!Web"}, {"MetricData", L({M({{"MetricName", "x"}, {"Value", 1.5}, {"Timestamp", Timestamp{1767323045.5}}})})}}));
}

TEST_F(CborCodecTest, ResolvesOnlyThisServicesPath) {
  HttpRequest r = request("ListMetrics", "");
  EXPECT_EQ(codec_.resolve_operation(r).name, "ListMetrics");
  r.path = "/prefix/service/GraniteServiceVersion20100801/operation/ListMetrics";
  EXPECT_EQ(codec_.resolve_operation(r).name, "ListMetrics");
  for (std::string path : {"/service/GraniteServiceVersion20100801/operation/Nope", "/service/CloudWatch/operation/ListMetrics",
                           "/service/GraniteServiceVersion20100801/operation/ListMetrics/x", "/", "/service/", "/operation/ListMetrics"}) {
    r.path = path;
    try {
      codec_.resolve_operation(r);
      ADD_FAILURE() << path;
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code(), "UnknownOperationException") << path;
      EXPECT_EQ(e.http_status(), 404);
    }
  }
}

TEST_F(CborCodecTest, TypeErrorsAreSerializationExceptions) {
  // {"Namespace": 5}
  AwsError e = decode_error(request("ListMetrics", unhex("a1694e616d65737061636505")));
  EXPECT_EQ(e.code(), "SerializationException");
  EXPECT_EQ(e.http_status(), 400);
  // MaxRecords beyond int32; a blob where a string is expected; a text timestamp; not a map.
  EXPECT_EQ(decode_error(request("DescribeAlarms", unhex("a16a4d61785265636f7264731b0000000100000000"))).code(), "SerializationException");
  EXPECT_EQ(decode_error(request("ListMetrics", unhex("a1694e616d657370616365416e"))).code(), "SerializationException");
  EXPECT_EQ(decode_error(request("GetMetricData", unhex("a169537461727454696d656178"))).code(), "SerializationException");
  EXPECT_EQ(decode_error(request("ListMetrics", unhex("8101"))).code(), "SerializationException");
  // Malformed CBOR.
  EXPECT_EQ(decode_error(request("ListMetrics", unhex("a1694e616d657370616365"))).code(), "SerializationException");
  EXPECT_EQ(decode_error(request("ListMetrics", unhex("a0a0"))).code(), "SerializationException");
}

TEST_F(CborCodecTest, EncodesResponsesBotocoreReads) {
  Value output = M({{"DashboardEntries", L({M({{"DashboardName", "d"}, {"LastModified", Timestamp{1767323045}}, {"Size", int64_t{12}}})})}});
  HttpResponse r;
  codec_.encode_response(output, *model_->operation("ListDashboards"), {"req-123"}, r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{
                           {"smithy-protocol", "rpc-v2-cbor"}, {"x-amzn-RequestId", "req-123"}, {"Content-Type", "application/cbor"}}));
  EXPECT_EQ(hex_encode(r.body), "a17044617368626f617264456e747269657381a36d44617368626f6172644e616d6561646c4c6173744d6f646966696564c11a695735a56453697a650c");

  // Shape-driven: an Int for a double becomes a float64, a double timestamp stays fractional.
  Value gmd = M({{"MetricDataResults", L({M({{"Id", "m1"},
                                              {"Label", "Latency"},
                                              {"Timestamps", L({Timestamp{1767323040}, Timestamp{1767322980.25}})},
                                              {"Values", L({1.5, int64_t{2}})},
                                              {"StatusCode", "Complete"}})})},
                 {"Messages", Value::list()}});
  HttpResponse g;
  codec_.encode_response(gmd, *model_->operation("GetMetricData"), {"req-123"}, g);
  EXPECT_EQ(hex_encode(g.body),
            "a2714d657472696344617461526573756c747381a5624964626d31654c6162656c674c6174656e63796a54696d657374616d707382c11a695735a0c1fb41da55"
            "cd591000006656616c75657382fb3ff8000000000000fb40000000000000006a537461747573436f646568436f6d706c657465684d6573736167657380");

  // No output shape: no body, no Content-Type. An output operation answered with nothing: {}.
  HttpResponse none;
  codec_.encode_response(Value(), *model_->operation("PutMetricData"), {"req-123"}, none);
  EXPECT_EQ(none.body, "");
  EXPECT_EQ(none.headers.size(), 2u);
  HttpResponse empty;
  codec_.encode_response(Value(), *model_->operation("ListDashboards"), {"req-123"}, empty);
  EXPECT_EQ(hex_encode(empty.body), "a0");
}

TEST_F(CborCodecTest, EncodesErrorsWithTypeAndQueryErrorHeader) {
  HttpResponse r;
  codec_.encode_error(AwsError("ResourceNotFound", "Dashboard d does not exist", 404), {"req-123"}, r);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{{"smithy-protocol", "rpc-v2-cbor"},
                                                                          {"Content-Type", "application/cbor"},
                                                                          {"x-amzn-RequestId", "req-123"},
                                                                          {"x-amzn-query-error", "ResourceNotFound;Sender"}}));
  // {"__type": "ResourceNotFound", "message": "..."}: botocore raises ResourceNotFound.
  EXPECT_EQ(hex_encode(r.body), "a2665f5f74797065705265736f757263654e6f74466f756e64676d657373616765781a44617368626f617264206420646f6573206e6f74206578697374");

  // The query code (error.code) travels in the header, the shape name in __type.
  HttpResponse p;
  codec_.encode_error(AwsError("InvalidParameterValue", "bad"), {"r"}, p);
  EXPECT_EQ(p.status, 400);
  EXPECT_EQ(cbor::decode(p.body), M({{"__type", "InvalidParameterValueException"}, {"message", "bad"}}));
  EXPECT_EQ(p.headers.back().second, "InvalidParameterValue;Sender");

  // The modeled status applies when the handler used the default; "Message" where modeled so.
  HttpResponse c;
  codec_.encode_error(AwsError("ConflictException", "busy"), {"r"}, c);
  EXPECT_EQ(c.status, 409);
  EXPECT_EQ(cbor::decode(c.body), M({{"__type", "ConflictException"}, {"Message", "busy"}}));

  HttpResponse i;
  codec_.encode_error(internal_error("boom"), {"r"}, i);
  EXPECT_EQ(i.status, 500);
  EXPECT_EQ(i.headers.back().second, "InternalFailure;Receiver");
}

TEST_F(CborCodecTest, ShapeConversionHelpers) {
  const Shape* input = model_->operation("PutMetricData")->input;
  Value raw = M({{"Namespace", "n"}, {"MetricData", L({M({{"MetricName", "m"}, {"Value", 2}, {"Timestamp", 1767323045}})})}});
  EXPECT_EQ(cbor_value_to_shape(raw, input),
            M({{"Namespace", "n"}, {"MetricData", L({M({{"MetricName", "m"}, {"Value", 2.0}, {"Timestamp", Timestamp{1767323045}}})})}}));
  std::string out;
  shape_value_to_cbor(M({{"Namespace", "n"}, {"Absent", Value()}}), input, out);
  EXPECT_EQ(cbor::decode(out), M({{"Namespace", "n"}}));
  EXPECT_EQ(make_codec(*model_, "smithy-rpc-v2-cbor")->name(), "smithy-rpc-v2-cbor");
  HttpRequest headerless = request("ListMetrics", "");
  headerless.headers = {{"content-type", "application/cbor"}};
  EXPECT_EQ(detect_protocol(*model_, headerless), "smithy-rpc-v2-cbor");
}

}  // namespace
}  // namespace vigil::protocol
