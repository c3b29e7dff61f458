#include <gtest/gtest.h>

#include "core/aws_error.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"

using vigil::AwsError;
using vigil::Value;
using namespace vigil::protocol;

namespace {

const ServiceModel& logs() { return *embedded_model("logs"); }

vigil::HttpRequest json_request(std::string target, std::string body) {
  vigil::HttpRequest r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"x-amz-target", std::move(target)}, {"content-type", "application/x-amz-json-1.1"}};
  r.body = std::move(body);
  return r;
}

std::string error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AwsError& e) {
    return e.code();
  }
  return "";
}

}  // namespace

TEST(EmbeddedModels, LoadWithOperationsAndShapes) {
  for (const char* name : {"logs", "cloudtrail", "cloudwatch", "s3"}) {
    const ServiceModel* model = embedded_model(name);
    ASSERT_NE(model, nullptr) << name;
    EXPECT_FALSE(model->operations.empty());
  }
  EXPECT_EQ(logs().target_prefix, "Logs_20140328");
  EXPECT_EQ(logs().json_version, "1.1");
  const Operation* put = logs().operation("PutLogEvents");
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->input->name, "PutLogEventsRequest");
  EXPECT_TRUE(put->input->member("logEvents")->required);
  EXPECT_EQ(embedded_model("nope"), nullptr);
}

TEST(JsonCodec, ResolvesOperationFromTarget) {
  JsonCodec codec(logs());
  EXPECT_EQ(codec.resolve_operation(json_request("Logs_20140328.CreateLogGroup", "{}")).name, "CreateLogGroup");
  EXPECT_EQ(error_code_of([&] { codec.resolve_operation(json_request("Logs_20140328.Nope", "{}")); }), "UnknownOperationException");
  EXPECT_EQ(error_code_of([&] { codec.resolve_operation(json_request("Other_1.CreateLogGroup", "{}")); }), "UnknownOperationException");
}

TEST(JsonCodec, DecodesTypedMembers) {
  JsonCodec codec(logs());
  auto request = json_request("Logs_20140328.PutLogEvents",
                              R"({"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1700000000000,"message":"m"}],"unknown":1})");
  const Operation& op = codec.resolve_operation(request);
  Value v = codec.decode_request(request, op);
  EXPECT_EQ(v.str("logGroupName"), "g");
  ASSERT_TRUE(v.get("logEvents")->is_list());
  EXPECT_EQ(v.get("logEvents")->as_list()[0].i64("timestamp", 0), 1700000000000);
  EXPECT_FALSE(v.has("unknown"));  // unknown members are ignored, as AWS does
}

TEST(JsonCodec, RejectsMalformedAndMistypedInput) {
  JsonCodec codec(logs());
  const Operation& op = *logs().operation("CreateLogGroup");
  for (const char* body : {"{", "[1,2]", R"({"logGroupName": 5})", R"({"logGroupName": {"a":1}})", "nul", "\xff\xfe"}) {
    EXPECT_EQ(error_code_of([&] { codec.decode_request(json_request("Logs_20140328.CreateLogGroup", body), op); }), "SerializationException")
        << body;
  }
  const Operation& put = *logs().operation("PutLogEvents");
  EXPECT_EQ(error_code_of([&] {
              codec.decode_request(json_request("x", R"({"logEvents":[{"timestamp":"soon","message":"m"}]})"), put);
            }),
            "SerializationException");
  EXPECT_TRUE(codec.decode_request(json_request("x", ""), op).is_map());  // empty body = no members
}

TEST(JsonCodec, EncodesResultsAndErrors) {
  JsonCodec codec(logs());
  const Operation& op = *logs().operation("DescribeLogGroups");
  Value out = Value::map();
  Value group = Value::map();
  group.set("logGroupName", "a\"b\n");
  group.set("creationTime", int64_t{1700000000000});
  group.set("retentionInDays", Value());  // nulls are omitted
  out.set("logGroups", Value(Value::List{group}));
  vigil::HttpResponse response;
  codec.encode_response(out, op, {"req-1"}, response);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"logGroups":[{"logGroupName":"a\"b\n","creationTime":1700000000000}]})");
  vigil::HttpResponse error;
  codec.encode_error(AwsError("ResourceNotFoundException", "The specified log group does not exist."), {"req-2"}, error);
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.body, R"({"__type":"ResourceNotFoundException","message":"The specified log group does not exist."})");
}

TEST(JsonCodec, TimestampsAndBlobs) {
  const ServiceModel& trail = *embedded_model("cloudtrail");
  const Operation& op = *trail.operation("LookupEvents");
  Value v = json_to_value(R"({"StartTime": 1700000000.5, "EndTime": "2026-01-02T03:04:05Z"})", op.input);
  EXPECT_DOUBLE_EQ(v.get("StartTime")->as_double(), 1700000000.5);
  EXPECT_DOUBLE_EQ(v.get("EndTime")->as_double(), 1767323045);
  Value out = Value::map();
  out.set("When", vigil::Timestamp{1700000000.25});
  out.set("Bytes", vigil::Blob{"hi"});
  EXPECT_EQ(value_to_json(out), R"({"When":1700000000.25,"Bytes":"aGk="})");
}

TEST(Validation, ReportsEveryViolationInAwsWords) {
  const Operation& op = *logs().operation("CreateLogGroup");
  Value v = Value::map();
  v.set("logGroupName", std::string(600, 'a'));
  v.set("logGroupClass", "GOLD");
  try {
    validate_input(v, op.input, "InvalidParameterException");
    FAIL() << "expected a validation error";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "InvalidParameterException");
    EXPECT_NE(e.message().find("2 validation errors detected: "), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("at 'logGroupName' failed to satisfy constraint: Member must have length less than or equal to 512"), std::string::npos);
    EXPECT_NE(e.message().find("Member must satisfy enum value set: ["), std::string::npos);
  }
  Value missing = Value::map();
  try {
    validate_input(missing, op.input, "InvalidParameterException");
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.message(), "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null");
  }
  Value bad_pattern = Value::map();
  bad_pattern.set("logGroupName", "has space");
  EXPECT_THROW(validate_input(bad_pattern, op.input, "InvalidParameterException"), AwsError);
  Value fine = Value::map();
  fine.set("logGroupName", "/aws/lambda/fn_1.2-x#y");
  EXPECT_NO_THROW(validate_input(fine, op.input, "InvalidParameterException"));
}
