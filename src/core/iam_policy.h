// IAM policy documents: structural validation and evaluation of a small, exact subset of the
// IAM policy language, shared by resource policies (S3 bucket policies today, AWS Config and
// SNS topic policies later). The document is a parsed JSON Value (protocol::json_to_value).
//
// Evaluated: Effect Allow/Deny (an explicit Deny wins, then an Allow, else implicit deny);
// Principal / NotPrincipal ("*", {"AWS": "*" | account id | arn:aws:iam::ACCOUNT:root | ARN},
// {"Service": "x.amazonaws.com"}); Action / NotAction (case-insensitive, * and ? wildcards);
// Resource / NotResource (case-sensitive wildcards); Condition with every IAM operator:
// String*, Arn*, Bool, Null, BinaryEquals, Numeric*, Date* (ISO 8601 dates or epoch seconds
// on both sides, for aws:CurrentTime / aws:EpochTime) and IpAddress / NotIpAddress (IPv4 and
// IPv6 CIDR), also with ...IfExists and ForAnyValue:/ForAllValues: on single-valued keys.
// Condition keys are case-insensitive; a key missing from the request makes a positive
// operator false and a negated one true, as in IAM; a present value that is not a number (a
// date) matches no Numeric (Date) condition.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace vigil::iam {

struct Request {
  // Who asks: a service principal ("cloudtrail.amazonaws.com") or an AWS principal (its
  // account id plus, optionally, the IAM ARN of the user/role).
  std::string service;
  std::string account;
  std::string principal_arn;
  std::string action;    // "s3:PutObject"
  std::string resource;  // "arn:aws:s3:::bucket/key"
  // Condition keys (any case): "aws:SourceArn", "aws:SourceAccount", "s3:x-amz-acl", ...
  std::map<std::string, std::string> context;
};

enum class Decision { ImplicitDeny, Allow, Deny };

// The MalformedPolicy message for a structurally invalid document, or empty when valid.
// Checks only what every resource policy shares (Statement, Effect, Principal, Action,
// Resource, Condition shapes); callers add their service's rules (e.g. S3's resources).
std::string policy_problem(const Value& document);

Decision evaluate(const Value& document, const Request& request);

// IAM wildcard match: '*' any run of characters, '?' any one character.
bool wildcard_match(std::string_view pattern, std::string_view text, bool ignore_case = false);

// A policy member that may be a string or a list of strings, as strings (other kinds skipped).
std::vector<std::string> string_list(const Value* member);

}  // namespace vigil::iam
