// split_arn: the five fields and the resource (which keeps its own colons); anything short of
// five colons or not starting with "arn:" is not an ARN.
#include <gtest/gtest.h>

#include "core/arn.h"

namespace vigil {
namespace {

TEST(Arn, SplitsTheFieldsAndKeepsTheResourceWhole) {
  auto a = split_arn("arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->partition, "aws");
  EXPECT_EQ(a->service, "logs");
  EXPECT_EQ(a->region, "us-east-1");
  EXPECT_EQ(a->account, "123456789012");
  EXPECT_EQ(a->resource, "log-group:/app/web:*");
  auto s3 = split_arn("arn:aws:s3:::bucket/key");  // empty region and account
  ASSERT_TRUE(s3);
  EXPECT_EQ(s3->region, "");
  EXPECT_EQ(s3->resource, "bucket/key");
  EXPECT_EQ(split_arn("arn:aws:sns:us-east-1:123456789012:")->resource, "");
}

TEST(Arn, RejectsWhatIsNotAnArn) {
  EXPECT_FALSE(split_arn(""));
  EXPECT_FALSE(split_arn("arn:aws:sns:us-east-1:123456789012"));  // four colons
  EXPECT_FALSE(split_arn("urn:aws:sns:us-east-1:123456789012:t"));
  EXPECT_FALSE(split_arn("alias/aws/s3"));
}

}  // namespace
}  // namespace vigil
