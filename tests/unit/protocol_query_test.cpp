// AWS query protocol: requests as botocore 1.43's QuerySerializer writes them (captured from
// a real client with the CloudWatch model forced to "query"), responses as its QueryParser
// reads them (every expected document below was fed to botocore and parsed correctly).
#include <gtest/gtest.h>

#include <cmath>

#include "protocol/codec.h"
#include "protocol/query_codec.h"
#include "protocol/schema.h"

namespace vigil::protocol {
namespace {

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

HttpRequest form(std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = std::move(body);
  return r;
}

class QueryCodecTest : public ::testing::Test {
 protected:
  // The models the server itself embeds (schema/*.json, compiled in).
  static void SetUpTestSuite() { model_ = embedded_model("cloudwatch"); }

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
  QueryCodec codec_{*model_};
};

const ServiceModel* QueryCodecTest::model_ = nullptr;

// ---- requests ---------------------------------------------------------------------------

TEST_F(QueryCodecTest, PutMetricDataFromBotocore) {
  auto [op, v] = decode(form(
      "Action=PutMetricData&Version=2010-08-01&Namespace=App%2FWeb&MetricData.member.1.MetricName=Latency&MetricData.member.1.Dimensions."
      "member.1.Name=Host&MetricData.member.1.Dimensions.member.1.Value=a+b&MetricData.member.1.Dimensions.member.2.Name=Env&MetricData."
      "member.1.Dimensions.member.2.Value=prod%26x&MetricData.member.1.Timestamp=2026-01-02T03%3A04%3A05Z&MetricData.member.1.Value=1.5&"
      "MetricData.member.1.Unit=Milliseconds&MetricData.member.2.MetricName=Hits&MetricData.member.2.Values.member.1=1.0&MetricData.member."
      "2.Values.member.2=2.5&MetricData.member.2.Counts.member.1=3.0&MetricData.member.2.Counts.member.2=1.0&MetricData.member.2."
      "StorageResolution=1&MetricData.member.2.StatisticValues.SampleCount=2&MetricData.member.2.StatisticValues.Sum=3&MetricData.member.2."
      "StatisticValues.Minimum=1&MetricData.member.2.StatisticValues.Maximum=2"));
  EXPECT_EQ(op, "PutMetricData");
  Value expected = M({
      {"MetricData",
       L({M({{"Dimensions", L({M({{"Name", "Host"}, {"Value", "a b"}}), M({{"Name", "Env"}, {"Value", "prod&x"}})})},
             {"MetricName", "Latency"},
             {"Timestamp", Timestamp{1767323045}},
             {"Unit", "Milliseconds"},
             {"Value", 1.5}}),
          M({{"Counts", L({3.0, 1.0})},
             {"MetricName", "Hits"},
             {"StatisticValues", M({{"Maximum", 2.0}, {"Minimum", 1.0}, {"SampleCount", 2.0}, {"Sum", 3.0}})},
             {"StorageResolution", 1},
             {"Values", L({1.0, 2.5})}})})},
      {"Namespace", "App/Web"},
  });
  EXPECT_EQ(v, expected);
}

TEST_F(QueryCodecTest, GetMetricDataNestedQueries) {
  auto [op, v] = decode(form(
      "Action=GetMetricData&Version=2010-08-01&MetricDataQueries.member.1.Id=m1&MetricDataQueries.member.1.MetricStat.Metric.Namespace=App%"
      "2FWeb&MetricDataQueries.member.1.MetricStat.Metric.MetricName=Latency&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member."
      "1.Name=Host&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value=a&MetricDataQueries.member.1.MetricStat.Period=60&"
      "MetricDataQueries.member.1.MetricStat.Stat=Average&MetricDataQueries.member.1.ReturnData=true&MetricDataQueries.member.2.Id=e1&"
      "MetricDataQueries.member.2.Expression=m1%2A2&MetricDataQueries.member.2.Label=x&MetricDataQueries.member.2.ReturnData=false&"
      "StartTime=2026-01-02T03%3A04%3A05Z&EndTime=2026-01-02T04%3A00%3A00Z&ScanBy=TimestampDescending&MaxDatapoints=100"));
  EXPECT_EQ(op, "GetMetricData");
  Value expected = M({
      {"EndTime", Timestamp{1767326400}},
      {"MaxDatapoints", 100},
      {"MetricDataQueries",
       L({M({{"Id", "m1"},
             {"MetricStat", M({{"Metric", M({{"Dimensions", L({M({{"Name", "Host"}, {"Value", "a"}})})},
                                             {"MetricName", "Latency"},
                                             {"Namespace", "App/Web"}})},
                               {"Period", 60},
                               {"Stat", "Average"}})},
             {"ReturnData", true}}),
          M({{"Expression", "m1*2"}, {"Id", "e1"}, {"Label", "x"}, {"ReturnData", false}})})},
      {"ScanBy", "TimestampDescending"},
      {"StartTime", Timestamp{1767323045}},
  });
  EXPECT_EQ(v, expected);
}

TEST_F(QueryCodecTest, DescribeAlarmsAndListMetrics) {
  auto [op, v] = decode(form(
      "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=a1&AlarmNames.member.2=a2&StateValue=ALARM&MaxRecords=10&AlarmTypes."
      "member.1=MetricAlarm&AlarmTypes.member.2=CompositeAlarm"));
  EXPECT_EQ(op, "DescribeAlarms");
  EXPECT_EQ(v, M({{"AlarmNames", L({"a1", "a2"})},
                  {"AlarmTypes", L({"MetricAlarm", "CompositeAlarm"})},
                  {"MaxRecords", 10},
                  {"StateValue", "ALARM"}}));

  auto [op2, v2] = decode(form("Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FEC2&Dimensions.member.1.Name=InstanceId&RecentlyActive=PT3H"));
  EXPECT_EQ(op2, "ListMetrics");
  EXPECT_EQ(v2, M({{"Dimensions", L({M({{"Name", "InstanceId"}})})}, {"Namespace", "AWS/EC2"}, {"RecentlyActive", "PT3H"}}));

  auto [op3, v3] = decode(form("Action=DescribeAlarms&Version=2010-08-01"));
  EXPECT_EQ(op3, "DescribeAlarms");
  EXPECT_EQ(v3, Value::map());
}

TEST_F(QueryCodecTest, EmptyListIsSerializedAsBareName) {
  // botocore writes an empty list as "Dimensions=".
  auto [op, v] = decode(form("Action=DescribeAlarmsForMetric&Version=2010-08-01&MetricName=CPU&Namespace=AWS%2FEC2&Dimensions="));
  EXPECT_EQ(v, M({{"Dimensions", Value::list()}, {"MetricName", "CPU"}, {"Namespace", "AWS/EC2"}}));
}

TEST_F(QueryCodecTest, ListOrderFollowsIndicesNotParameterOrder) {
  auto [op, v] = decode(form(
      "Action=PutMetricData&Namespace=x&MetricData.member.2.MetricName=b&MetricData.member.1.MetricName=a&MetricData.member.1.Timestamp="
      "1767323045.5&MetricData.member.10.MetricName=c"));
  EXPECT_EQ(v, M({{"MetricData", L({M({{"MetricName", "a"}, {"Timestamp", Timestamp{1767323045.5}}}), M({{"MetricName", "b"}}),
                                    M({{"MetricName", "c"}})})},
                  {"Namespace", "x"}}));
}

TEST_F(QueryCodecTest, GetWithQueryStringWorks) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/";
  r.query = "Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FEC2&MetricName=CPUUtilization";
  auto [op, v] = decode(r);
  EXPECT_EQ(op, "ListMetrics");
  EXPECT_EQ(v, M({{"MetricName", "CPUUtilization"}, {"Namespace", "AWS/EC2"}}));
  EXPECT_EQ(detect_protocol(*model_, r), "query");
}

TEST_F(QueryCodecTest, UnknownParametersAreIgnored) {
  auto [op, v] = decode(form("Action=ListMetrics&Version=2010-08-01&Bogus=1&Namespace=n&Namespace.member.1=z"));
  EXPECT_EQ(v, M({{"Namespace", "n"}}));
}

TEST_F(QueryCodecTest, UnknownAndMissingAction) {
  AwsError e = decode_error(form("Action=Nope&Version=2010-08-01"));
  EXPECT_EQ(e.code(), "InvalidAction");
  EXPECT_EQ(e.http_status(), 400);
  EXPECT_EQ(e.message(), "Could not find operation Nope for version 2010-08-01");

  AwsError m = decode_error(form("Version=2010-08-01&Namespace=x"));
  EXPECT_EQ(m.code(), "MissingAction");
  EXPECT_EQ(m.http_status(), 400);
}

TEST_F(QueryCodecTest, InvalidValuesAreInvalidParameterValue) {
  AwsError e = decode_error(form("Action=DescribeAlarms&MaxRecords=abc"));
  EXPECT_EQ(e.code(), "InvalidParameterValue");
  EXPECT_EQ(e.http_status(), 400);
  EXPECT_EQ(e.message(), "Value (abc) for parameter MaxRecords is invalid. Expected: integer.");

  EXPECT_EQ(decode_error(form("Action=DescribeAlarms&MaxRecords=99999999999")).code(), "InvalidParameterValue");  // > int32
  EXPECT_EQ(decode_error(form("Action=PutMetricData&Namespace=n&MetricData.member.1.Value=1.5x")).code(), "InvalidParameterValue");
  EXPECT_EQ(decode_error(form("Action=PutMetricData&Namespace=n&MetricData.member.1.Timestamp=yesterday")).code(), "InvalidParameterValue");
  EXPECT_EQ(decode_error(form("Action=GetMetricData&MetricDataQueries.member.1.ReturnData=yes")).code(), "InvalidParameterValue");
}

TEST_F(QueryCodecTest, MalformedListIndexIsMalformedQueryString) {
  AwsError e = decode_error(form("Action=DescribeAlarms&AlarmNames.member.x=a"));
  EXPECT_EQ(e.code(), "MalformedQueryString");
  EXPECT_EQ(decode_error(form("Action=DescribeAlarms&AlarmNames.member.0=a")).code(), "MalformedQueryString");
}

TEST_F(QueryCodecTest, SpecialDoublesAndLongKeys) {
  auto [op, v] = decode(form("Action=PutMetricData&Namespace=n&MetricData.member.1.Value=-Infinity"));
  const Value& value = *v.get("MetricData")->as_list()[0].get("Value");
  EXPECT_TRUE(std::isinf(value.as_double()) && value.as_double() < 0);
  // Parameter names deeper than any model are ignored rather than recursed into.
  std::string deep = "Action=ListMetrics&Namespace=n&";
  for (int i = 0; i < 500; ++i) deep += "a.";
  deep += "b=1";
  auto [op2, v2] = decode(form(deep));
  EXPECT_EQ(v2, M({{"Namespace", "n"}}));
}

TEST(QueryFormTest, ParsesPercentAndPlus) {
  FormParams p = parse_form("a=1&b=x+y%2Bz&&c&d=%E6%B0%B4&=e");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(p[1], (std::pair<std::string, std::string>{"b", "x y+z"}));
  EXPECT_EQ(p[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(p[3], (std::pair<std::string, std::string>{"d", "\xe6\xb0\xb4"}));
  EXPECT_EQ(p[4], (std::pair<std::string, std::string>{"", "e"}));
}

// ---- responses ----------------------------------------------------------------------------

TEST_F(QueryCodecTest, EncodesDescribeAlarmsLikeAws) {
  Value alarm = M({{"AlarmName", "high-cpu"},
                   {"AlarmArn", "arn:aws:cloudwatch:us-east-1:123:alarm:high-cpu"},
                   {"ActionsEnabled", true},
                   {"OKActions", Value::list()},
                   {"AlarmActions", L({"arn:aws:sns:us-east-1:123:t"})},
                   {"StateValue", "ALARM"},
                   {"StateUpdatedTimestamp", Timestamp{1767323045.5}},
                   {"MetricName", "CPU"},
                   {"Namespace", "AWS/EC2"},
                   {"Statistic", "Average"},
                   {"Dimensions", L({M({{"Name", "Host"}, {"Value", "a<b>&c"}})})},
                   {"Period", 60},
                   {"EvaluationPeriods", 3},
                   {"Threshold", 80.5},
                   {"ComparisonOperator", "GreaterThanThreshold"}});
  Value output = M({{"MetricAlarms", L({alarm})}, {"CompositeAlarms", Value::list()}, {"NextToken", "tok"}});
  HttpResponse r;
  codec_.encode_response(output, *model_->operation("DescribeAlarms"), {"req-123"}, r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{{"Content-Type", "text/xml"}, {"x-amzn-RequestId", "req-123"}}));
  EXPECT_EQ(r.body,
            "<DescribeAlarmsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><DescribeAlarmsResult><CompositeAlarms>"
            "</CompositeAlarms><MetricAlarms><member><ActionsEnabled>true</ActionsEnabled><AlarmActions><member>arn:aws:sns:us-east-1:123:t"
            "</member></AlarmActions><AlarmArn>arn:aws:cloudwatch:us-east-1:123:alarm:high-cpu</AlarmArn><AlarmName>high-cpu</AlarmName>"
            "<ComparisonOperator>GreaterThanThreshold</ComparisonOperator><Dimensions><member><Name>Host</Name><Value>a&lt;b&gt;&amp;c</Value>"
            "</member></Dimensions><EvaluationPeriods>3</EvaluationPeriods><MetricName>CPU</MetricName><Namespace>AWS/EC2</Namespace>"
            "<OKActions></OKActions><Period>60</Period><StateUpdatedTimestamp>2026-01-02T03:04:05.500Z</StateUpdatedTimestamp><StateValue>"
            "ALARM</StateValue><Statistic>Average</Statistic><Threshold>80.5</Threshold></member></MetricAlarms><NextToken>tok</NextToken>"
            "</DescribeAlarmsResult><ResponseMetadata><RequestId>req-123</RequestId></ResponseMetadata></DescribeAlarmsResponse>");
}

TEST_F(QueryCodecTest, EncodesTimestampsWithMillisecondsAndDoubles) {
  Value output = M({{"MetricDataResults", L({M({{"Id", "m1"},
                                                 {"Label", "Latency"},
                                                 {"Timestamps", L({Timestamp{1767323040}, Timestamp{1767322980.25}})},
                                                 {"Values", L({1.5, int64_t{2}})},
                                                 {"StatusCode", "Complete"}})})},
                    {"Messages", Value::list()}});
  HttpResponse r;
  codec_.encode_response(output, *model_->operation("GetMetricData"), {"req-123"}, r);
  EXPECT_EQ(r.body,
            "<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricDataResult><Messages></Messages>"
            "<MetricDataResults><member><Id>m1</Id><Label>Latency</Label><StatusCode>Complete</StatusCode><Timestamps><member>"
            "2026-01-02T03:04:00.000Z</member><member>2026-01-02T03:03:00.250Z</member></Timestamps><Values><member>1.5</member><member>2.0"
            "</member></Values></member></MetricDataResults></GetMetricDataResult><ResponseMetadata><RequestId>req-123</RequestId>"
            "</ResponseMetadata></GetMetricDataResponse>");
}

TEST_F(QueryCodecTest, OperationWithoutOutputHasOnlyResponseMetadata) {
  HttpResponse r;
  codec_.encode_response(Value(), *model_->operation("PutMetricData"), {"req-123"}, r);
  EXPECT_EQ(r.body,
            "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>req-123</RequestId>"
            "</ResponseMetadata></PutMetricDataResponse>");
  // An output operation answered with nothing still has its (empty) result wrapper.
  HttpResponse e;
  codec_.encode_response(Value(), *model_->operation("ListDashboards"), {"req-123"}, e);
  EXPECT_EQ(e.body,
            "<ListDashboardsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ListDashboardsResult></ListDashboardsResult>"
            "<ResponseMetadata><RequestId>req-123</RequestId></ResponseMetadata></ListDashboardsResponse>");
}

TEST_F(QueryCodecTest, ErrorsUseTheQueryErrorShape) {
  HttpResponse r;
  codec_.encode_error(AwsError("InvalidParameterValue", "bad <value>"), {"req-123"}, r);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{{"Content-Type", "text/xml"}, {"x-amzn-RequestId", "req-123"}}));
  EXPECT_EQ(r.body,
            "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>InvalidParameterValue"
            "</Code><Message>bad &lt;value&gt;</Message></Error><RequestId>req-123</RequestId></ErrorResponse>");

  // The modeled status wins over the default 400; a shape name maps to its query code.
  HttpResponse nf;
  codec_.encode_error(AwsError("DashboardNotFoundError", "Dashboard d does not exist"), {"r"}, nf);
  EXPECT_EQ(nf.status, 404);
  EXPECT_NE(nf.body.find("<Code>ResourceNotFound</Code>"), std::string::npos);

  HttpResponse internal;
  codec_.encode_error(internal_error("boom"), {"r"}, internal);
  EXPECT_EQ(internal.status, 500);
  EXPECT_NE(internal.body.find("<Type>Receiver</Type><Code>InternalFailure</Code>"), std::string::npos);
}

// ---- locationName / flattened rules (a small query model, requests from botocore) ----------

constexpr const char* kMiniQueryModel = R"json({"metadata":{"apiVersion":"2020-01-01","endpointPrefix":"mini","protocol":"query","protocols":["query"],"serviceId":"Mini","signatureVersion":"v4","vigilService":"mini","xmlNamespace":"http://mini.example.com/doc/2020-01-01/"},"operations":{"Put":{"errors":[{"shape":"NotFound"}],"http":{"method":"POST","requestUri":"/"},"input":{"shape":"PutInput"},"name":"Put","output":{"resultWrapper":"PutResult","shape":"PutOutput"}}},"shapes":{"Attribute":{"members":{"Name":{"shape":"String"},"Value":{"shape":"String"}},"type":"structure"},"AttributeList":{"flattened":true,"member":{"locationName":"Attribute","shape":"Attribute"},"type":"list"},"Blob":{"type":"blob"},"Boolean":{"type":"boolean"},"Double":{"type":"double"},"FlatList":{"flattened":true,"member":{"shape":"String"},"type":"list"},"FlatMap":{"flattened":true,"key":{"shape":"String"},"type":"map","value":{"shape":"String"}},"Integer":{"type":"integer"},"Nested":{"members":{"Deep":{"shape":"Nested2"},"Items":{"shape":"StringList"}},"type":"structure"},"Nested2":{"members":{"Value":{"shape":"String"}},"type":"structure"},"NotFound":{"error":{"code":"NotFound","httpStatusCode":404,"senderFault":true},"exception":true,"members":{"message":{"shape":"String"}},"type":"structure"},"PropMap":{"key":{"locationName":"Name","shape":"String"},"type":"map","value":{"locationName":"Value","shape":"PropValue"}},"PropValue":{"members":{"DataType":{"shape":"String"},"StringValue":{"shape":"String"}},"type":"structure"},"PutInput":{"members":{"Attributes":{"locationName":"Attribute","shape":"AttributeList"},"Count":{"shape":"Integer"},"Data":{"shape":"Blob"},"Enabled":{"shape":"Boolean"},"FlatPlain":{"shape":"FlatList"},"FlatProps":{"shape":"FlatMap"},"Name":{"shape":"String"},"Nested":{"shape":"Nested"},"Props":{"shape":"PropMap"},"Ratio":{"shape":"Double"},"Renamed":{"locationName":"OtherName","shape":"String"},"Tags":{"shape":"TagList"},"When":{"shape":"Time"}},"required":["Name"],"type":"structure"},"PutOutput":{"members":{"Attributes":{"locationName":"Attribute","shape":"AttributeList"},"Data":{"shape":"Blob"},"FlatPlain":{"shape":"FlatList"},"FlatProps":{"shape":"FlatMap"},"Props":{"shape":"PropMap"},"Ratio":{"shape":"Double"},"Renamed":{"locationName":"OtherName","shape":"String"},"Tags":{"shape":"TagList"},"When":{"shape":"Time"}},"type":"structure"},"String":{"type":"string"},"StringList":{"member":{"shape":"String"},"type":"list"},"Tag":{"members":{"Key":{"shape":"String"},"Value":{"shape":"String"}},"type":"structure"},"TagList":{"member":{"locationName":"Tag","shape":"Tag"},"type":"list"},"Time":{"type":"timestamp"}}})json";

TEST(QueryMiniModelTest, FlattenedAndRenamedMembersRoundTrip) {
  auto model = load_service_model(kMiniQueryModel);
  QueryCodec codec(*model);
  HttpRequest r = form(
      "Action=Put&Version=2020-01-01&Name=n1&Attribute.1.Name=a&Attribute.1.Value=1&Attribute.2.Name=b&Attribute.2.Value=2&FlatPlain.1=x&"
      "FlatPlain.2=y&Tags.Tag.1.Key=k&Tags.Tag.1.Value=v&Props.entry.1.Name=p1&Props.entry.1.Value.DataType=String&Props.entry.1.Value."
      "StringValue=sv&FlatProps.1.key=f1&FlatProps.1.value=v1&FlatProps.2.key=f2&FlatProps.2.value=v2&OtherName=r&Data=AAFiaW4%3D&When="
      "2026-01-02T03%3A04%3A05Z&Count=7&Ratio=0.25&Enabled=false&Nested.Items.member.1=i1&Nested.Deep.Value=d");
  const Operation& op = codec.resolve_operation(r);
  Value in = codec.decode_request(r, op);
  Value expected = M({
      {"Attributes", L({M({{"Name", "a"}, {"Value", "1"}}), M({{"Name", "b"}, {"Value", "2"}})})},
      {"Count", 7},
      {"Data", Blob{std::string("\0\1bin", 5)}},
      {"Enabled", false},
      {"FlatPlain", L({"x", "y"})},
      {"FlatProps", M({{"f1", "v1"}, {"f2", "v2"}})},
      {"Name", "n1"},
      {"Nested", M({{"Deep", M({{"Value", "d"}})}, {"Items", L({"i1"})}})},
      {"Props", M({{"p1", M({{"DataType", "String"}, {"StringValue", "sv"}})}})},
      {"Ratio", 0.25},
      {"Renamed", "r"},
      {"Tags", L({M({{"Key", "k"}, {"Value", "v"}})})},
      {"When", Timestamp{1767323045}},
  });
  EXPECT_EQ(in, expected);

  Value out = Value::map();
  for (const auto& [k, v] : in.as_map())
    if (op.output->member(k)) out.set(k, v);
  HttpResponse resp;
  codec.encode_response(out, op, {"rid"}, resp);
  // botocore's QueryParser reads this back to the same members.
  EXPECT_EQ(resp.body,
            "<PutResponse xmlns=\"http://mini.example.com/doc/2020-01-01/\"><PutResult><Attribute><Name>a</Name><Value>1</Value></Attribute>"
            "<Attribute><Name>b</Name><Value>2</Value></Attribute><Data>AAFiaW4=</Data><FlatPlain>x</FlatPlain><FlatPlain>y</FlatPlain>"
            "<FlatProps><key>f1</key><value>v1</value></FlatProps><FlatProps><key>f2</key><value>v2</value></FlatProps><Props><entry><Name>p1"
            "</Name><Value><DataType>String</DataType><StringValue>sv</StringValue></Value></entry></Props><Ratio>0.25</Ratio><OtherName>r"
            "</OtherName><Tags><Tag><Key>k</Key><Value>v</Value></Tag></Tags><When>2026-01-02T03:04:05.000Z</When></PutResult>"
            "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></PutResponse>");

  HttpResponse err;
  codec.encode_error(AwsError("NotFound", "nope"), {"rid"}, err);
  EXPECT_EQ(err.status, 404);
}

TEST(QueryMiniModelTest, BadBase64AndMissingMapKey) {
  auto model = load_service_model(kMiniQueryModel);
  QueryCodec codec(*model);
  HttpRequest bad = form("Action=Put&Name=n&Data=%%%");
  EXPECT_THROW(codec.decode_request(bad, codec.resolve_operation(bad)), AwsError);
  HttpRequest nokey = form("Action=Put&Name=n&Props.entry.1.Value.DataType=String");
  try {
    codec.decode_request(nokey, codec.resolve_operation(nokey));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "MalformedQueryString");
  }
}

TEST_F(QueryCodecTest, MakeCodecAndDetectProtocol) {
  auto codec = make_codec(*model_, "query");
  ASSERT_NE(codec, nullptr);
  EXPECT_EQ(codec->name(), "query");
  EXPECT_EQ(detect_protocol(*model_, form("Action=ListMetrics")), "query");
  HttpRequest cbor;
  cbor.method = "POST";
  cbor.path = "/service/GraniteServiceVersion20100801/operation/ListMetrics";
  cbor.headers = {{"smithy-protocol", "rpc-v2-cbor"}, {"content-type", "application/cbor"}};
  EXPECT_EQ(detect_protocol(*model_, cbor), "smithy-rpc-v2-cbor");
  HttpRequest json;
  json.method = "POST";
  json.path = "/";
  json.headers = {{"x-amz-target", "GraniteServiceVersion20100801.ListMetrics"}, {"content-type", "application/x-amz-json-1.0"}};
  EXPECT_EQ(detect_protocol(*model_, json), "json");
}

}  // namespace
}  // namespace vigil::protocol
