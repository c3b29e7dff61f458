// The IAM policy subset (core/iam_policy.h) and S3's bucket policy validation on top of it.
#include <gtest/gtest.h>

#include "core/aws_error.h"
#include "core/iam_policy.h"
#include "protocol/json_codec.h"
#include "services/s3/bucket_policy.h"

namespace vigil::iam {
namespace {

Value doc(const char* json) { return protocol::json_to_value(json, nullptr); }

Request cloudtrail_put(const std::string& key) {
  Request r;
  r.service = "cloudtrail.amazonaws.com";
  r.action = "s3:PutObject";
  r.resource = "arn:aws:s3:::b/" + key;
  r.context = {{"aws:SourceArn", "arn:aws:cloudtrail:us-east-1:000000000000:trail/main"},
               {"aws:SourceAccount", "000000000000"},
               {"s3:x-amz-acl", "bucket-owner-full-control"}};
  return r;
}

TEST(IamPolicy, WildcardMatch) {
  EXPECT_TRUE(wildcard_match("*", ""));
  EXPECT_TRUE(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
  EXPECT_FALSE(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
  EXPECT_TRUE(wildcard_match("s3:Get*", "s3:GetObject"));
  EXPECT_FALSE(wildcard_match("s3:Get*", "s3:getobject"));
  EXPECT_TRUE(wildcard_match("s3:Get*", "s3:getobject", true));
  EXPECT_TRUE(wildcard_match("a?c*e", "abcde"));
  EXPECT_FALSE(wildcard_match("a?c", "ac"));
  EXPECT_TRUE(wildcard_match("*a*a*a*", "xaxaxax"));
  EXPECT_FALSE(wildcard_match("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

TEST(IamPolicy, ServicePrincipalWithConditions) {
  Value p = doc(R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"Service":["cloudtrail.amazonaws.com"]},"Action":"s3:PutObject",
     "Resource":"arn:aws:s3:::b/AWSLogs/000000000000/*",
     "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"},
                  "ArnLike":{"AWS:SourceArn":"arn:aws:cloudtrail:*:000000000000:trail/*"}}}]})");
  EXPECT_EQ(policy_problem(p), "");
  EXPECT_EQ(evaluate(p, cloudtrail_put("AWSLogs/000000000000/CloudTrail/x.json.gz")), Decision::Allow);
  EXPECT_EQ(evaluate(p, cloudtrail_put("AWSLogs/111111111111/x")), Decision::ImplicitDeny);  // resource
  Request r = cloudtrail_put("AWSLogs/000000000000/x");
  r.action = "S3:putobject";  // actions are case-insensitive
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
  r.context["s3:x-amz-acl"] = "private";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  r = cloudtrail_put("AWSLogs/000000000000/x");
  r.context.erase("s3:x-amz-acl");  // a missing key: a positive operator is false
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  r = cloudtrail_put("AWSLogs/000000000000/x");
  r.service = "config.amazonaws.com";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  r = cloudtrail_put("AWSLogs/000000000000/x");
  r.context["aws:SourceArn"] = "arn:aws:cloudtrail:us-east-1:111111111111:trail/main";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
}

TEST(IamPolicy, DenyWinsAndNegatedOperators) {
  Value p = doc(R"({"Statement":[
    {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
    {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
     "Condition":{"StringNotEquals":{"aws:SourceAccount":"000000000000"}}}]})");
  EXPECT_EQ(evaluate(p, cloudtrail_put("k")), Decision::Allow);
  Request r = cloudtrail_put("k");
  r.context["aws:SourceAccount"] = "111111111111";
  EXPECT_EQ(evaluate(p, r), Decision::Deny);
  r.context.erase("aws:SourceAccount");  // a missing key: a negated operator is true
  EXPECT_EQ(evaluate(p, r), Decision::Deny);
  // IfExists: a missing key makes the condition true.
  Value q = doc(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*",
     "Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"000000000000"}}}]})");
  EXPECT_EQ(evaluate(q, r), Decision::Allow);
  // ForAllValues over an absent key holds vacuously; ForAnyValue does not.
  Value all = doc(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*",
     "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}}]})");
  EXPECT_EQ(evaluate(all, r), Decision::Allow);
  Value any = doc(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*",
     "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}}]})");
  EXPECT_EQ(evaluate(any, r), Decision::ImplicitDeny);
}

TEST(IamPolicy, AwsPrincipalsNotActionAndUnevaluatedConditions) {
  Value p = doc(R"({"Statement":[
    {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root","222222222222"]},"NotAction":"s3:Delete*","Resource":"*"},
    {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
    {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"10"}}}]})");
  EXPECT_EQ(policy_problem(p), "");
  Request r;
  r.account = "111111111111";
  r.action = "s3:GetObject";
  r.resource = "arn:aws:s3:::b/k";
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
  r.action = "s3:DeleteObject";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  r.account = "222222222222";
  r.action = "s3:PutObject";
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
  r.account = "333333333333";
  r.action = "s3:GetObject";
  // aws:SourceIp is absent: IpAddress is false; s3:max-keys absent: NumericLessThan false.
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  // Numeric conditions are evaluated: 5 < 10 denies, 50 does not.
  r.context["s3:max-keys"] = "5";
  r.account = "111111111111";
  EXPECT_EQ(evaluate(p, r), Decision::Deny);
  r.context["s3:max-keys"] = "50";
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
}

TEST(IamPolicy, DateConditionsCompareIso8601AndEpochTimes) {
  // A time window on aws:CurrentTime, and a deadline on aws:EpochTime in epoch seconds.
  Value p = doc(R"({"Statement":[
    {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*",
     "Condition":{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},
                  "DateLessThan":{"aws:CurrentTime":"2026-02-01"}}},
    {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*",
     "Condition":{"DateGreaterThan":{"aws:EpochTime":"1767225600"}}}]})");
  ASSERT_EQ(policy_problem(p), "");
  Request r;
  r.account = "111111111111";
  r.action = "s3:GetObject";
  r.resource = "arn:aws:s3:::b/k";
  auto at = [&](const char* iso, const char* epoch) {
    r.context["aws:CurrentTime"] = iso;
    r.context["aws:EpochTime"] = epoch;
  };
  at("2025-12-31T23:59:59Z", "1767225599");
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  at("2026-01-01T00:00:00Z", "1767225600");
  EXPECT_EQ(evaluate(p, r), Decision::Allow);  // the bound is inclusive
  at("2026-01-15T01:00:00+02:00", "1768431600");  // an offset is honoured
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
  at("2026-02-01T00:00:00Z", "1769904000");
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);  // DateLessThan is strict
  r.action = "s3:PutObject";
  at("2025-12-31T23:59:59Z", "1767225600");
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);  // not after the deadline yet
  at("2026-01-01T00:00:01Z", "1767225601");
  EXPECT_EQ(evaluate(p, r), Decision::Deny);
  // A value that is no date matches no date condition; a missing key only the negated ones.
  r.context["aws:EpochTime"] = "soon";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
  Value not_equals = doc(R"({"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
     "Condition":{"DateNotEquals":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]})");
  EXPECT_EQ(evaluate(not_equals, r), Decision::Deny);
  Value equals = doc(R"({"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
     "Condition":{"DateEqualsIfExists":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]})");
  EXPECT_EQ(evaluate(equals, r), Decision::Deny);  // IfExists: absent holds
  r.context["aws:TokenIssueTime"] = "2026-01-01T00:00:00.000Z";
  EXPECT_EQ(evaluate(equals, r), Decision::Deny);
  r.context["aws:TokenIssueTime"] = "2026-01-01T00:00:01Z";
  EXPECT_EQ(evaluate(equals, r), Decision::ImplicitDeny);
}

TEST(IamPolicy, BinaryEqualsComparesTheDecodedBytes) {
  Value p = doc(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*",
     "Condition":{"BinaryEquals":{"test:key":"QmluYXJ5AA=="}}}]})");
  Request r;
  r.account = "111111111111";
  r.action = "s3:GetObject";
  r.resource = "arn:aws:s3:::b/k";
  r.context["test:key"] = std::string("Binary\0", 7);
  EXPECT_EQ(evaluate(p, r), Decision::Allow);
  r.context["test:key"] = "Binary";
  EXPECT_EQ(evaluate(p, r), Decision::ImplicitDeny);
}

TEST(IamPolicy, SourceIpRanges) {
  Value p = doc(R"({"Statement":[
    {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.7"]}}},
    {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.7"]}}}]})");
  Request r;
  r.account = "111111111111";
  r.action = "s3:GetObject";
  r.resource = "arn:aws:s3:::b/k";
  for (const char* inside : {"10.1.2.3", "10.255.255.255", "2001:db8::1", "2001:db8:ffff::", "192.0.2.7"}) {
    r.context["aws:SourceIp"] = inside;
    EXPECT_EQ(evaluate(p, r), Decision::Allow) << inside;
  }
  for (const char* outside : {"11.0.0.1", "127.0.0.1", "192.0.2.8", "2001:db9::1", "::1", "not an address", "::ffff:10.1.2.3x"}) {
    r.context["aws:SourceIp"] = outside;
    EXPECT_EQ(evaluate(p, r), Decision::Deny) << outside;
  }
  // Malformed ranges match nothing.
  Value bad = doc(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/33","10.0.0/8","x"]}}}]})");
  r.context["aws:SourceIp"] = "10.0.0.1";
  EXPECT_EQ(evaluate(bad, r), Decision::ImplicitDeny);
}

TEST(IamPolicy, StructureProblems) {
  EXPECT_EQ(policy_problem(doc("[]")), "Policies must be valid JSON and the first byte must be '{'");
  EXPECT_EQ(policy_problem(doc(R"({"Version":"2012-10-17"})")), "Missing required field Statement");
  EXPECT_EQ(policy_problem(doc(R"({"Version":"2020-01-01","Statement":[]})")), "The policy must contain a valid version string");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Principal":"*","Action":"s3:*","Resource":"*"}})")), "Missing required field Effect");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"allow","Principal":"*","Action":"s3:*","Resource":"*"}})")), "Invalid effect: allow");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}})")), "Missing required field Principal");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Principal":{"Service":"cloudtrail"},"Action":"s3:*","Resource":"*"}})")),
            "Invalid principal in policy");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}})")), "Missing required field Action");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*"}})")), "Missing required field Resource");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Sometimes":{"a":"b"}}}})")),
            "Invalid Condition type : Sometimes");
  EXPECT_EQ(policy_problem(doc(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Colour":"red"}})")),
            "Unknown field Colour");
}

std::string malformed(const char* text) {
  try {
    s3::parse_bucket_policy(text, "b");
  } catch (const AwsError& e) {
    return e.code() + ": " + e.message();
  }
  return "";
}

TEST(BucketPolicy, S3Validation) {
  EXPECT_EQ(malformed("nope"), "MalformedPolicy: Policies must be valid JSON and the first byte must be '{'");
  EXPECT_EQ(malformed("{"), "MalformedPolicy: Policies must be valid JSON and the first byte must be '{'");
  EXPECT_EQ(malformed(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}})"),
            "MalformedPolicy: Policy has invalid resource");
  EXPECT_EQ(malformed(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b"}})"),
            "MalformedPolicy: Action does not apply to any resource(s) in statement");
  EXPECT_EQ(malformed(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/*"}})"),
            "MalformedPolicy: Action does not apply to any resource(s) in statement");
  EXPECT_EQ(malformed(R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"arn:aws:s3:::b/*"}})"),
            "MalformedPolicy: Policy has invalid action");
  EXPECT_EQ(malformed(R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:ListBucket","s3:GetObject"],
                         "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
                        {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b*"}]})"),
            "");
}

}  // namespace
}  // namespace vigil::iam
