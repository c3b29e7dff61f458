// requestParameters and responseElements take the names AWS's CloudTrail records use.
#include <gtest/gtest.h>

#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "services/cloudtrail/record_parameters.h"

using vigil::Value;
using vigil::cloudtrail::append_record_parameters;

namespace {
std::string render(const char* service, const char* operation, const char* input_json, bool input = true) {
  const vigil::protocol::ServiceModel* model = vigil::protocol::embedded_model(service);
  const vigil::protocol::Operation* op = model->operation(operation);
  const vigil::protocol::Shape* shape = input ? op->input : op->output;
  Value value = vigil::protocol::json_to_value(input_json, shape);
  std::string out;
  append_record_parameters(value, shape, out);
  return out;
}
}  // namespace

TEST(RecordParameters, StructureMembersLowerTheirFirstLetterMapKeysStay) {
  EXPECT_EQ(render("cloudtrail", "CreateTrail",
                   R"({"Name":"t","S3BucketName":"b","IsMultiRegionTrail":true,"TagsList":[{"Key":"Team","Value":"Sec"}]})"),
            R"({"name":"t","s3BucketName":"b","isMultiRegionTrail":true,"tagsList":[{"key":"Team","value":"Sec"}]})");
  // A map's keys are data: an encryption context keeps them.
  EXPECT_EQ(render("kms", "GenerateDataKey", R"({"KeyId":"alias/app","EncryptionContext":{"Department":"Ops"},"KeySpec":"AES_256"})"),
            R"({"keyId":"alias/app","encryptionContext":{"Department":"Ops"},"keySpec":"AES_256"})");
  // Members already in lower camel case (CloudWatch Logs) are unchanged.
  EXPECT_EQ(render("logs", "CreateLogGroup", R"({"logGroupName":"/g","tags":{"Env":"dev"}})"), R"({"logGroupName":"/g","tags":{"Env":"dev"}})");
  // Outputs too: "TrailARN" becomes "trailARN", as in AWS's records.
  EXPECT_EQ(render("cloudtrail", "CreateTrail", R"({"Name":"t","TrailARN":"arn:aws:cloudtrail:us-east-1:0:trail/t"})", false),
            R"({"name":"t","trailARN":"arn:aws:cloudtrail:us-east-1:0:trail/t"})");
  // Without a shape (a service that named its members itself) nothing is renamed.
  std::string out;
  append_record_parameters(vigil::protocol::json_to_value(R"({"Bucket":"b","list-type":"2"})", nullptr), nullptr, out);
  EXPECT_EQ(out, R"({"Bucket":"b","list-type":"2"})");
}

TEST(RecordParameters, TimestampsAreJavaMediumDatesInUtc) {
  EXPECT_EQ(vigil::cloudtrail::java_medium_date(1'796'683'118.9), "Dec 7, 2026, 10:38:38 PM");
  EXPECT_EQ(vigil::cloudtrail::java_medium_date(1'767'225'600), "Jan 1, 2026, 12:00:00 AM");
  EXPECT_EQ(vigil::cloudtrail::java_medium_date(1'767'268'800), "Jan 1, 2026, 12:00:00 PM");
  EXPECT_EQ(render("cloudtrail", "LookupEvents", R"({"StartTime":1767225600,"MaxResults":5})"),
            R"({"startTime":"Jan 1, 2026, 12:00:00 AM","maxResults":5})");
}
