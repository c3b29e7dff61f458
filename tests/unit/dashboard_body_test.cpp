#include "services/cloudwatch/dashboard_body.h"

#include <gtest/gtest.h>

using namespace vigil::cloudwatch;

namespace {
std::string one(const std::string& body) {
  auto m = validate_dashboard_body(body);
  if (m.size() != 1) return "count=" + std::to_string(m.size());
  return m[0].data_path + " | " + m[0].message;
}
}  // namespace

TEST(DashboardBody, DocumentedExampleIsValid) {
  const char* body = R"({"start":"-PT6H","periodOverride":"inherit","widgets":[
    {"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"metrics":[["AWS/EC2","CPUUtilization","InstanceId","i-012345"]],
     "period":300,"stat":"Average","region":"us-east-1","title":"EC2 Instance CPU","liveData":false,"legend":{"position":"right"}}},
    {"type":"text","x":0,"y":7,"width":3,"height":3,"properties":{"markdown":"Hello world"}}]})";
  EXPECT_TRUE(validate_dashboard_body(body).empty());
  EXPECT_TRUE(validate_dashboard_body(R"({"widgets":[]})").empty());
  EXPECT_TRUE(validate_dashboard_body(
                  R"({"widgets":[{"type":"alarm","properties":{"alarms":["arn:aws:cloudwatch:us-east-1:1:alarm:a"]}},
                      {"type":"log","properties":{"query":"SOURCE 'x' | fields @message"}},
                      {"type":"custom","properties":{"endpoint":"arn:aws:lambda:us-east-1:1:function:f"}},
                      {"type":"explorer","properties":{"metrics":[{"metricName":"CPUUtilization"}]}},
                      {"type":"metric","properties":{"annotations":{"alarms":["arn:a"]}}}]})")
                  .empty());
}

TEST(DashboardBody, NotJson) {
  EXPECT_EQ(one("not json"), " | The field DashboardBody must be a valid JSON object");
  EXPECT_EQ(one("[1,2]"), " | The field DashboardBody must be a valid JSON object");
}

TEST(DashboardBody, TopLevel) {
  EXPECT_EQ(one("{}"), " | Should have required property 'widgets'");
  EXPECT_EQ(one(R"({"widgets":{}})"), "/widgets | Should be array");
  EXPECT_EQ(one(R"({"widgets":[],"periodOverride":"x"})"), "/periodOverride | Should be equal to one of the allowed values");
  EXPECT_EQ(one(R"({"widgets":[],"variables":{}})"), "/variables | Should be array");
}

TEST(DashboardBody, WidgetGeometry) {
  auto w = [](const std::string& geo) {
    return one(R"({"widgets":[{"type":"text",)" + geo + R"(,"properties":{"markdown":"m"}}]})");
  };
  EXPECT_EQ(w(R"("x":24)"), "/widgets/0/x | Should be <= 23");
  EXPECT_EQ(w(R"("x":-1)"), "/widgets/0/x | Should be >= 0");
  EXPECT_EQ(w(R"("y":-1)"), "/widgets/0/y | Should be >= 0");
  EXPECT_EQ(w(R"("width":0)"), "/widgets/0/width | Should be >= 1");
  EXPECT_EQ(w(R"("width":25)"), "/widgets/0/width | Should be <= 24");
  EXPECT_EQ(w(R"("height":1001)"), "/widgets/0/height | Should be <= 1000");
  EXPECT_EQ(w(R"("height":1.5)"), "/widgets/0/height | Should be integer");
  EXPECT_EQ(w(R"("x":"1")"), "/widgets/0/x | Should be integer");
  EXPECT_EQ(w(R"("x":20,"width":6)"), "/widgets/0 | Widget must fit in the 24-column grid: x + width should be <= 24");
  EXPECT_TRUE(validate_dashboard_body(R"({"widgets":[{"type":"text","x":18,"width":6,"properties":{"markdown":"m"}}]})").empty());
}

TEST(DashboardBody, WidgetTypesAndProperties) {
  EXPECT_EQ(one(R"({"widgets":[{"type":"pie","properties":{}}]})"), "/widgets/0/type | Should be equal to one of the allowed values");
  EXPECT_EQ(one(R"({"widgets":[{"properties":{}}]})"), "/widgets/0 | Should have required property 'type'");
  EXPECT_EQ(one(R"({"widgets":[1]})"), "/widgets/0 | Should be object");
  EXPECT_EQ(one(R"({"widgets":[{"type":"text"}]})"), "/widgets/0 | Should have required property 'properties'");
  EXPECT_EQ(one(R"({"widgets":[{"type":"text","properties":[]}]})"), "/widgets/0/properties | Should be object");
  EXPECT_EQ(one(R"({"widgets":[{"type":"text","properties":{}}]})"), "/widgets/0/properties | Should have required property 'markdown'");
  EXPECT_EQ(one(R"({"widgets":[{"type":"log","properties":{}}]})"), "/widgets/0/properties | Should have required property 'query'");
  EXPECT_EQ(one(R"({"widgets":[{"type":"alarm","properties":{}}]})"), "/widgets/0/properties | Should have required property 'alarms'");
  EXPECT_EQ(one(R"({"widgets":[{"type":"alarm","properties":{"alarms":[]}}]})"), "/widgets/0/properties/alarms | Should NOT have fewer than 1 items");
  EXPECT_EQ(one(R"({"widgets":[{"type":"metric","properties":{}}]})"), "/widgets/0/properties | Should have required property 'metrics'");
  EXPECT_EQ(one(R"({"widgets":[{"type":"custom","properties":{}}]})"), "/widgets/0/properties | Should have required property 'endpoint'");
}

TEST(DashboardBody, MetricArrays) {
  EXPECT_EQ(one(R"({"widgets":[{"type":"metric","properties":{"metrics":[["AWS/Lambda","Invocations",{"stat":"Sum"},{"FunctionName":"f"}]]}}]})"),
            "/widgets/0/properties/metrics/0/2 | Invalid metric field type, only \"String\" type is allowed");
  EXPECT_EQ(one(R"({"widgets":[{"type":"metric","properties":{"metrics":[["AWS/Lambda",5]]}}]})"),
            "/widgets/0/properties/metrics/0/1 | Invalid metric field type, only \"String\" type is allowed");
  EXPECT_TRUE(validate_dashboard_body(
                  R"j({"widgets":[{"type":"metric","properties":{"metrics":[[{"expression":"SUM(METRICS())","label":"t"}],["AWS/Lambda","Errors","FunctionName","f",{"stat":"Sum"}],[".","Invocations",".","."]]}}]})j")
                  .empty());
}

TEST(DashboardBody, MultipleMessagesAndErrorText) {
  auto m = validate_dashboard_body(R"({"widgets":[{"type":"text","x":30,"properties":{}}]})");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(dashboard_invalid_message(m),
            "The dashboard body is invalid, there are 2 validation errors:\n[\n  {\n    \"dataPath\": \"/widgets/0/x\",\n    "
            "\"message\": \"Should be <= 23\"\n  },\n  {\n    \"dataPath\": \"/widgets/0/properties\",\n    \"message\": "
            "\"Should have required property 'markdown'\"\n  }\n]");
}
