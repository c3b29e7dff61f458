#include "services/s3/bucket_policy.h"

#include <cctype>
#include <exception>
#include <optional>

#include "core/aws_error.h"
#include "protocol/json_codec.h"

namespace vigil::s3 {

namespace {

AwsError malformed(const std::string& message) { return AwsError("MalformedPolicy", message, 400); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Which resources an S3 action applies to: objects, buckets, or (wildcards) either.
enum class Target { Object, Bucket, Either };
Target action_target(std::string_view action) {
  std::string a = lower(action);
  if (a.find('*') != std::string::npos || a.find('?') != std::string::npos) return Target::Either;
  if (a.find("object") != std::string::npos || a == "s3:abortmultipartupload" || a == "s3:listmultipartuploadparts") return Target::Object;
  return Target::Bucket;
}

}  // namespace

Value parse_bucket_policy(std::string_view text, std::string_view bucket) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') throw malformed("Policies must be valid JSON and the first byte must be '{'");
  Value doc;
  try {
    doc = protocol::json_to_value(text, nullptr);
  } catch (const std::exception&) {
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  if (std::string problem = iam::policy_problem(doc); !problem.empty()) throw malformed(problem);
  std::string bucket_arn = "arn:aws:s3:::" + std::string(bucket);
  const Value* st = doc.get("Statement");
  std::vector<const Value*> statements;
  if (st->is_map()) statements.push_back(st);
  else
    for (const Value& s : st->as_list()) statements.push_back(&s);
  for (const Value* s : statements) {
    const Value* actions = s->get("Action") ? s->get("Action") : s->get("NotAction");
    bool object_actions = false, bucket_actions = false;
    for (const std::string& a : iam::string_list(actions)) {
      if (a != "*" && lower(a).rfind("s3:", 0) != 0) throw malformed("Policy has invalid action");
      Target t = a == "*" ? Target::Either : action_target(a);
      object_actions |= t != Target::Bucket;
      bucket_actions |= t != Target::Object;
    }
    const Value* resources = s->get("Resource") ? s->get("Resource") : s->get("NotResource");
    bool object_resources = false, bucket_resources = false;
    for (const std::string& r : iam::string_list(resources)) {
      // Every resource must name this bucket or objects in it (wildcards allowed).
      bool names_bucket = iam::wildcard_match(r, bucket_arn);
      bool names_objects = r.rfind(bucket_arn + "/", 0) == 0 || (r.find('*') != std::string::npos && iam::wildcard_match(r, bucket_arn + "/x"));
      if (!names_bucket && !names_objects) throw malformed("Policy has invalid resource");
      object_resources |= names_objects;
      bucket_resources |= names_bucket;
    }
    if (s->has("Action") && s->has("Resource") && !((object_actions && object_resources) || (bucket_actions && bucket_resources)))
      throw malformed("Action does not apply to any resource(s) in statement");
  }
  return doc;
}

namespace {

std::optional<Value> stored_policy(const ObjectStore& objects, std::string_view bucket) {
  auto text = objects.bucket_policy(bucket);
  if (!text) return std::nullopt;
  try {
    return protocol::json_to_value(*text, nullptr);
  } catch (const std::exception&) {
    return std::nullopt;  // validated when put; a damaged record must not open the bucket
  }
}

}  // namespace

bool s3_request_allowed(const ObjectStore& objects, const BucketRecord& bucket, const iam::Request& caller, bool caller_is_root) {
  const bool owner = caller.account == bucket.owner_account;
  auto doc = stored_policy(objects, bucket.name);
  if (!doc) return owner;
  iam::Decision d = iam::evaluate(*doc, caller);
  if (d == iam::Decision::Deny) {
    std::string a = lower(caller.action);
    return owner && caller_is_root && (a == "s3:getbucketpolicy" || a == "s3:putbucketpolicy" || a == "s3:deletebucketpolicy");
  }
  return owner || d == iam::Decision::Allow;
}

iam::Decision service_access(const ObjectStore& objects, std::string_view bucket, const std::string& service, const std::string& action,
                             const std::string& resource, const std::map<std::string, std::string>& context) {
  auto doc = stored_policy(objects, bucket);
  if (!doc) return iam::Decision::ImplicitDeny;
  iam::Request r;
  r.service = service;
  r.action = action;
  r.resource = resource;
  r.context = context;
  return iam::evaluate(*doc, r);
}

}  // namespace vigil::s3
