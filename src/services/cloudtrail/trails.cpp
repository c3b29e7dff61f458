#include "services/cloudtrail/trails.h"

#include "services/cloudtrail/lake_selectors.h"
#include "services/cloudtrail/event_history.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "core/arn.h"
#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "services/s3/bucket_policy.h"

namespace vigil::cloudtrail {

namespace {

constexpr std::string_view kTrailPrefix = "ct:t:";
constexpr std::string_view kPendingPrefix = "ct:p:";
constexpr std::string_view kPendingInsightPrefix = "ct:q:";
constexpr size_t kMaxTrailsPerRegion = 5;
constexpr size_t kMaxTags = 50;
constexpr size_t kMaxSelectors = 5;
constexpr size_t kMaxDeliveryRecords = 5000;  // records per file; more make another file

std::string trail_arn(const std::string& account, const std::string& region, std::string_view name) {
  return "arn:aws:cloudtrail:" + region + ":" + account + ":trail/" + std::string(name);
}

std::string pending_base(const std::string& key, std::string_view prefix = kPendingPrefix) {
  std::string k(prefix);
  k += key;
  k += '\0';
  return k;
}
std::string pending_end(const std::string& key, std::string_view prefix = kPendingPrefix) {
  std::string k(prefix);
  k += key;
  k += '\1';
  return k;
}

// InsightSelectors (as stored) -> InsightType mask.
uint8_t insight_mask(const Value& state) {
  uint8_t mask = 0;
  if (const Value* sels = state.get("InsightSelectors"); sels && sels->is_list())
    for (const Value& sel : sels->as_list()) {
      if (sel.str("InsightType") == "ApiCallRateInsight") mask |= kApiCallRate;
      if (sel.str("InsightType") == "ApiErrorRateInsight") mask |= kApiErrorRate;
    }
  return mask;
}

AwsError not_found(std::string_view name, const std::string& account) {
  return AwsError("TrailNotFoundException", "Unknown trail: " + std::string(name) + " for the user: " + account, 400);
}
AwsError wrong_home(const std::string& arn, const std::string& region, const std::string& home) {
  return AwsError("InvalidHomeRegionException",
                  "This operation must be called from the trail's home region (" + home + "); it was called in " + region + " for " + arn + ".", 400);
}

struct NameOrArn {
  std::string account, region, name;  // account/region empty for a plain name
};

NameOrArn parse_name_or_arn(std::string_view input) {
  NameOrArn out;
  if (input.rfind("arn:", 0) == 0) {
    auto arn = split_arn(input);
    if (!arn || arn->service != "cloudtrail" || arn->region.empty() || arn->account.size() != 12 || arn->resource.rfind("trail/", 0) != 0)
      throw AwsError("CloudTrailARNInvalidException", "ARN " + std::string(input) + " is invalid.", 400);
    out.region = std::string(arn->region);
    out.account = std::string(arn->account);
    out.name = std::string(arn->resource.substr(6));
  } else {
    out.name = std::string(input);
  }
  if (std::string problem = trail_name_problem(out.name); !problem.empty()) throw AwsError("InvalidTrailNameException", problem, 400);
  return out;
}

// How a trail is named in the event history's Insights index (insight_trail_key): its ARN and
// the id it got at creation, so that a trail deleted and created again with the same name does
// not list its predecessor's Insights events (those entries just expire with the events).
// Trails created before the id existed have none, and no entries from before either.
std::string insight_key(const Value& state) {
  std::string key(state.str("TrailARN"));
  if (std::string_view id = state.str("InsightsIndexId"); !id.empty()) {
    key += '\x01';
    key += id;
  }
  return key;
}

// 16 random letters and digits, the unique part of a log file name.
std::string random_alnum(size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof kChars - 2);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[pick(rng)];
  return s;
}

std::tm utc(double seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// One gzip member (the AWS CLI's validator inflates only the first).
std::string gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(produced);
  return out;
}

bool bool_member(const Value& v, std::string_view key, bool fallback) {
  const Value* m = v.get(key);
  return m && m->kind() == Value::Kind::Bool ? m->as_bool() : fallback;
}

Value default_selectors() {
  Value selector = Value::map();
  selector.set("ReadWriteType", "All");
  selector.set("IncludeManagementEvents", true);
  selector.set("DataResources", Value::list());
  selector.set("ExcludeManagementEventSources", Value::list());
  Value list = Value::list();
  list.push(std::move(selector));
  return list;
}

void erase_member(Value& v, std::string_view key) {
  auto& m = v.as_map();
  std::erase_if(m, [&](const auto& kv) { return kv.first == key; });
}

Value empty_tags() { return Value::list(); }


void reject_unsupported(const Value& input) {
  auto unsupported = [](const std::string& what) {
    return AwsError("UnsupportedOperationException", "Vigil does not support " + what + " on trails yet (see docs/coverage.md).", 400);
  };
  if (bool_member(input, "IsOrganizationTrail", false)) throw unsupported("organization trails");
}

constexpr std::string_view kCloudTrailPrincipal = "cloudtrail.amazonaws.com";

AwsError insufficient_topic_policy() {
  return AwsError("InsufficientSnsTopicPolicyException", "SNS Topic does not exist or the topic policy is incorrect!", 400);
}
AwsError invalid_log_group() {
  return AwsError("InvalidCloudWatchLogsLogGroupArnException", "CloudTrail cannot validate the specified log group ARN.", 400);
}

// arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] -> (region, account, name); empty name if not one.
struct LogGroupArn {
  std::string region, account, name;
};
LogGroupArn parse_log_group_arn(std::string_view arn) {
  LogGroupArn out;
  constexpr std::string_view kStart = "arn:aws:logs:";
  if (arn.rfind(kStart, 0) != 0) return out;
  std::string_view rest = arn.substr(kStart.size());
  size_t c1 = rest.find(':');
  if (c1 == std::string_view::npos) return out;
  size_t c2 = rest.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return out;
  std::string_view resource = rest.substr(c2 + 1);
  if (resource.rfind("log-group:", 0) != 0) return out;
  std::string_view name = resource.substr(10);
  if (name.size() >= 2 && name.substr(name.size() - 2) == ":*") name.remove_suffix(2);
  if (name.empty() || name.find(':') != std::string_view::npos) return out;
  out.region = std::string(rest.substr(0, c1));
  out.account = std::string(rest.substr(c1 + 1, c2 - c1 - 1));
  out.name = std::string(name);
  return out;
}

int64_t event_millis(const std::string& event_time, double fallback_seconds) {
  auto t = parse_iso8601(event_time);
  return static_cast<int64_t>(std::llround((t ? *t : fallback_seconds) * 1000));
}

}  // namespace

void merge_tags(Value& tags, const Value* add, std::string_view per) {
  if (!add || !add->is_list()) return;
  for (const Value& t : add->as_list()) {
    std::string key(t.str("Key"));
    if (key.empty() || key.size() > 128) throw AwsError("InvalidTagParameterException", "Tag key must be 1 to 128 characters long.", 400);
    if (t.str("Value").size() > 256) throw AwsError("InvalidTagParameterException", "Tag value must be at most 256 characters long.", 400);
    bool replaced = false;
    for (Value& existing : tags.as_list())
      if (existing.str("Key") == key) {
        existing.set("Value", std::string(t.str("Value")));
        replaced = true;
      }
    if (!replaced) {
      Value tag = Value::map();
      tag.set("Key", key);
      tag.set("Value", std::string(t.str("Value")));
      tags.push(std::move(tag));
    }
  }
  if (tags.size() > kMaxTags) throw AwsError("TagsLimitExceededException", "The number of tags per " + std::string(per) + " has exceeded the permitted amount. Currently, the limit is 50.", 400);
}

Value without_tags(const Value* tags, const Value* remove) {
  Value kept = Value::list();
  if (tags && tags->is_list())
    for (const Value& tag : tags->as_list()) {
      bool drop = false;
      if (remove && remove->is_list())
        for (const Value& r : remove->as_list())
          // A tag to remove with a value removes only that key/value pair.
          if (r.str("Key") == tag.str("Key") && (!r.has("Value") || r.str("Value") == tag.str("Value"))) drop = true;
      if (!drop) kept.push(tag);
    }
  return kept;
}

std::string trail_name_problem(std::string_view name) {
  if (name.size() < 3)
    return "Trail name too short. Minimum allowed length: 3 characters. Specified name length: " + std::to_string(name.size()) + " characters.";
  if (name.size() > 128)
    return "Trail name too long. Maximum allowed length: 128 characters. Specified name length: " + std::to_string(name.size()) + " characters.";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  auto punct = [](char c) { return c == '.' || c == '_' || c == '-'; };
  for (char c : name)
    if (!alnum(c) && !punct(c))
      return "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).";
  if (!alnum(name.front())) return "Trail name must starts with a letter or number.";
  if (!alnum(name.back())) return "Trail name must ends with a letter or number.";
  for (size_t i = 1; i < name.size(); ++i)
    if (punct(name[i]) && punct(name[i - 1])) return "Trail name cannot have adjacent periods, underscores or dashes.";
  int dots = 0;
  bool digits = true;
  for (char c : name) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') digits = false;
  }
  if (digits && dots == 3) return "Trail name cannot be formatted as an IP address.";
  return {};
}

TrailStore::TrailStore(store::Store& store, const Clock& clock, s3::ObjectStore& objects)
    : store_(store), clock_(clock), objects_(objects), sequence_(static_cast<uint64_t>(clock.now_millis()) * 1000), keys_(store, clock) {}

TrailStore::Key TrailStore::key_of(const std::string& account, const std::string& region, std::string_view name) {
  std::string k = account;
  k += '\0';
  k += region;
  k += '\0';
  k += name;
  return k;
}

void TrailStore::load() {
  std::lock_guard lock(mutex_);
  trails_.clear();
  trail_count_.store(0, std::memory_order_release);
  std::string end(kTrailPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  auto it = store_.iterate(store::Keyspace::Meta, kTrailPrefix, end);
  for (it->seek(kTrailPrefix); it->valid(); it->next()) {
    std::string key(it->key().substr(kTrailPrefix.size()));
    size_t a = key.find('\0'), b = key.find('\0', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    Trail t{key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1), protocol::json_to_value(it->value(), nullptr)};
    t.insight_types = insight_mask(t.state);
    trails_.emplace(key, std::move(t));
    trail_count_.store(trails_.size(), std::memory_order_release);  // right even if a later entry throws
  }
  if (insights_) {
    std::set<std::string> accounts;
    for (const auto& [k, t] : trails_) accounts.insert(t.account);
    for (const std::string& account : accounts) sync_insights(account);
  }
  // New pending records sort after every record written before a restart.
  sequence_ = std::max<uint64_t>(sequence_.load(), static_cast<uint64_t>(clock_.now_millis()) * 1000);
}

void TrailStore::reset() {
  if (insights_) insights_->reset();
  load();
}

void TrailStore::sync_insights(const std::string& account) {
  if (!insights_) return;
  uint8_t mask = 0;
  for (const auto& [k, t] : trails_)
    if (t.account == account) mask |= t.insight_types;
  for (InsightType type : {kApiCallRate, kApiErrorRate}) {
    if (mask & type) insights_->enable(account, type);
    else insights_->disable(account, type);
  }
}

void TrailStore::save(const Trail& trail) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kTrailPrefix) + key_of(trail.account, trail.home_region, trail.name),
            protocol::value_to_json(trail.state));
  store_.write(batch);
}

const TrailStore::Trail& TrailStore::find(const std::string& account, const std::string& region, std::string_view name_or_arn) const {
  NameOrArn n = parse_name_or_arn(name_or_arn);
  if (!n.account.empty()) {
    if (n.account != account) throw not_found(name_or_arn, account);
    auto it = trails_.find(key_of(account, n.region, n.name));
    if (it == trails_.end()) throw not_found(name_or_arn, account);
    if (n.region != region && !bool_member(it->second.state, "IsMultiRegionTrail", false)) throw not_found(name_or_arn, account);
    return it->second;
  }
  if (auto it = trails_.find(key_of(account, region, n.name)); it != trails_.end()) return it->second;
  // A multi-region trail of another home region shows here as a shadow trail.
  for (const auto& [key, trail] : trails_)
    if (trail.account == account && trail.name == n.name && bool_member(trail.state, "IsMultiRegionTrail", false)) return trail;
  throw not_found(name_or_arn, account);
}

TrailStore::Trail& TrailStore::find_in_home(const std::string& account, const std::string& region, std::string_view name_or_arn) {
  const Trail& t = find(account, region, name_or_arn);
  if (t.home_region != region) throw wrong_home(std::string(t.state.str("TrailARN")), region, t.home_region);
  return const_cast<Trail&>(t);
}

void TrailStore::set_hooks(TrailHooks hooks) { hooks_ = std::move(hooks); }

std::string cloudtrail_bucket_access(const s3::ObjectStore& objects, bool policy_required, const std::string& account, const std::string& source_arn,
                                     const std::string& bucket, const std::string& object_arn, double now) {
  auto b = objects.bucket(bucket);
  if (!b) return "NoSuchBucket";
  if (!objects.bucket_policy(bucket)) return !policy_required && b->owner_account == account ? "" : "AccessDenied";
  // The request context CloudTrail's own calls carry (AWS's documented bucket policy uses
  // aws:SourceArn / aws:SourceAccount and s3:x-amz-acl).
  std::map<std::string, std::string> context{{"aws:SourceArn", source_arn},
                                             {"aws:SourceAccount", account},
                                             {"aws:SecureTransport", "true"},
                                             {"aws:PrincipalServiceName", std::string(kCloudTrailPrincipal)},
                                             {"aws:CurrentTime", format_iso8601(std::floor(now))},
                                             {"aws:EpochTime", format_epoch_number(std::floor(now))}};
  std::string service(kCloudTrailPrincipal);
  if (s3::service_access(objects, bucket, service, "s3:GetBucketAcl", "arn:aws:s3:::" + bucket, context) != iam::Decision::Allow)
    return "AccessDenied";
  context.emplace("s3:x-amz-acl", "bucket-owner-full-control");
  if (s3::service_access(objects, bucket, service, "s3:PutObject", object_arn, context) != iam::Decision::Allow) return "AccessDenied";
  return {};
}

std::string TrailStore::bucket_access(const std::string& account, const std::string& trail_arn, const std::string& bucket,
                                      const std::string& object_arn) const {
  return cloudtrail_bucket_access(objects_, policy_required_, account, trail_arn, bucket, object_arn, clock_.now_seconds());
}

void TrailStore::check_bucket(const std::string& account, const std::string& trail_arn, const std::string& bucket, const std::string& prefix) const {
  if (bucket.empty() || !s3::valid_bucket_name(bucket))
    throw AwsError("InvalidS3BucketNameException", "Bucket name is not valid: " + bucket, 400);
  if (!objects_.bucket(bucket)) throw AwsError("S3BucketDoesNotExistException", "S3 bucket " + bucket + " does not exist.", 400);
  // What every log file key of the trail starts with.
  std::string object_arn = "arn:aws:s3:::" + bucket + "/" + (prefix.empty() ? std::string() : prefix + "/") + "AWSLogs/" + account + "/*";
  if (!bucket_access(account, trail_arn, bucket, object_arn).empty())
    throw AwsError("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: " + bucket, 400);
}

std::string TrailStore::resolve_topic(const std::string& account, const std::string& region, const std::string& name_or_arn) const {
  std::string arn;
  if (name_or_arn.rfind("arn:", 0) == 0) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t colon; (colon = name_or_arn.find(':', start)) != std::string::npos && parts.size() < 5; start = colon + 1)
      parts.push_back(name_or_arn.substr(start, colon - start));
    std::string name = name_or_arn.substr(start);
    if (parts.size() != 5 || parts[2] != "sns" || name.empty() || name.find(':') != std::string::npos)
      throw AwsError("InvalidSnsTopicNameException", "Invalid SNS topic name or ARN: " + name_or_arn, 400);
    // A topic of another account or region: CloudTrail cannot see it (no cross-account topic policies here).
    if (parts[3] != region || parts[4] != account) throw insufficient_topic_policy();
    arn = name_or_arn;
  } else {
    bool valid = !name_or_arn.empty() && name_or_arn.size() <= 256;
    for (char c : name_or_arn)
      valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
    if (!valid) throw AwsError("InvalidSnsTopicNameException", "Invalid SNS topic name or ARN: " + name_or_arn, 400);
    arn = "arn:aws:sns:" + region + ":" + account + ":" + name_or_arn;
  }
  if (!hooks_.topic_exists || !hooks_.topic_exists(account, region, arn)) throw insufficient_topic_policy();
  return arn;
}

void TrailStore::check_log_group(const std::string& account, const std::string& region, const std::string& group_arn, const std::string& role_arn) const {
  if (group_arn.empty()) throw AwsError("InvalidCloudWatchLogsLogGroupArnException", "You must specify a log group and a role ARN.", 400);
  if (role_arn.empty()) throw AwsError("InvalidCloudWatchLogsRoleArnException", "You must specify a role ARN as well as a log group.", 400);
  LogGroupArn g = parse_log_group_arn(group_arn);
  if (g.name.empty() || g.region != region || g.account != account) throw invalid_log_group();
  // Roles: arn:aws:iam::ACCOUNT:role/NAME of the trail's account. Vigil has no IAM roles yet,
  // so the role is checked for its form only (docs/coverage.md).
  constexpr std::string_view kRole = "arn:aws:iam::";
  bool role_ok = role_arn.rfind(kRole, 0) == 0 && role_arn.compare(kRole.size(), account.size(), account) == 0 &&
                 role_arn.compare(kRole.size() + account.size(), 6, ":role/") == 0 && role_arn.size() > kRole.size() + account.size() + 6;
  if (!role_ok) throw AwsError("InvalidCloudWatchLogsRoleArnException", "Access denied. Check the trust relationships for your role.", 400);
  if (!hooks_.log_group_exists || !hooks_.log_group_exists(account, region, g.name)) throw invalid_log_group();
}

Value TrailStore::trail_view(const Trail& trail) const {
  const Value& s = trail.state;
  Value v = Value::map();
  v.set("Name", trail.name);
  v.set("S3BucketName", std::string(s.str("S3BucketName")));
  if (!s.str("S3KeyPrefix").empty()) v.set("S3KeyPrefix", std::string(s.str("S3KeyPrefix")));
  if (!s.str("SnsTopicARN").empty()) {
    std::string arn(s.str("SnsTopicARN"));
    v.set("SnsTopicName", arn.substr(arn.rfind(':') + 1));
    v.set("SnsTopicARN", arn);
  }
  v.set("IncludeGlobalServiceEvents", bool_member(s, "IncludeGlobalServiceEvents", true));
  v.set("IsMultiRegionTrail", bool_member(s, "IsMultiRegionTrail", false));
  v.set("HomeRegion", trail.home_region);
  v.set("TrailARN", std::string(s.str("TrailARN")));
  v.set("LogFileValidationEnabled", bool_member(s, "LogFileValidationEnabled", false));
  if (!s.str("KmsKeyId").empty()) v.set("KmsKeyId", std::string(s.str("KmsKeyId")));
  if (!s.str("CloudWatchLogsLogGroupArn").empty()) {
    v.set("CloudWatchLogsLogGroupArn", std::string(s.str("CloudWatchLogsLogGroupArn")));
    v.set("CloudWatchLogsRoleArn", std::string(s.str("CloudWatchLogsRoleArn")));
  }
  v.set("HasCustomEventSelectors", bool_member(s, "HasCustomEventSelectors", false));
  v.set("HasInsightSelectors", trail.insight_types != 0);
  v.set("IsOrganizationTrail", false);
  return v;
}

Value TrailStore::create(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("Name"));
  if (name.rfind("arn:", 0) == 0)
    throw AwsError("InvalidTrailNameException", "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).", 400);
  if (std::string problem = trail_name_problem(name); !problem.empty()) throw AwsError("InvalidTrailNameException", problem, 400);
  reject_unsupported(input);
  std::string bucket(input.str("S3BucketName"));
  std::string prefix(input.str("S3KeyPrefix"));
  if (prefix.size() > 200) throw AwsError("InvalidS3PrefixException", "S3 prefix is longer than 200 characters.", 400);
  bool multi = bool_member(input, "IsMultiRegionTrail", false);
  bool global = bool_member(input, "IncludeGlobalServiceEvents", true);
  if (multi && !global)
    throw AwsError("InvalidParameterCombinationException", "Multi-Region trail must include global service events.", 400);
  std::lock_guard lock(mutex_);
  Key key = key_of(account, region, name);
  if (trails_.count(key))
    throw AwsError("TrailAlreadyExistsException", "Trail " + name + " already exists for customer: " + account, 400);
  // A multi-region trail's shadow also occupies the name in every other region.
  for (const auto& [k, t] : trails_)
    if (t.account == account && t.name == name && (multi || bool_member(t.state, "IsMultiRegionTrail", false)))
      throw AwsError("TrailAlreadyExistsException", "Trail " + name + " already exists for customer: " + account, 400);
  size_t in_region = 0;
  for (const auto& [k, t] : trails_)
    if (t.account == account && t.home_region == region) ++in_region;
  if (in_region >= kMaxTrailsPerRegion)
    throw AwsError("MaximumNumberOfTrailsExceededException", "User: " + account + " already has 5 trails in " + region + ".", 400);
  check_bucket(account, trail_arn(account, region, name), bucket, prefix);
  std::string topic_arn;
  if (!input.str("SnsTopicName").empty()) topic_arn = resolve_topic(account, region, std::string(input.str("SnsTopicName")));
  std::string group_arn(input.str("CloudWatchLogsLogGroupArn")), role_arn(input.str("CloudWatchLogsRoleArn"));
  if (!group_arn.empty() || !role_arn.empty()) check_log_group(account, region, group_arn, role_arn);

  std::string kms_key;
  if (!input.str("KmsKeyId").empty()) kms_key = hooks_.kms.resolve(account, region, std::string(input.str("KmsKeyId")));

  Trail t{account, region, name, Value::map()};
  if (!topic_arn.empty()) t.state.set("SnsTopicARN", topic_arn);
  if (!kms_key.empty()) t.state.set("KmsKeyId", kms_key);
  if (!group_arn.empty()) {
    t.state.set("CloudWatchLogsLogGroupArn", group_arn);
    t.state.set("CloudWatchLogsRoleArn", role_arn);
  }
  t.state.set("Name", name);
  t.state.set("S3BucketName", bucket);
  if (!prefix.empty()) t.state.set("S3KeyPrefix", prefix);
  t.state.set("IncludeGlobalServiceEvents", global);
  t.state.set("IsMultiRegionTrail", multi);
  t.state.set("TrailARN", trail_arn(account, region, name));
  // Names this trail, not a later one with the same ARN, in the Insights index (insight_key).
  t.state.set("InsightsIndexId", random_alnum(16));
  t.state.set("EventSelectors", default_selectors());
  t.state.set("HasCustomEventSelectors", false);
  Value tags = empty_tags();
  merge_tags(tags, input.get("TagsList"), "trail");
  t.state.set("Tags", std::move(tags));
  t.state.set("IsLogging", false);
  if (bool_member(input, "EnableLogFileValidation", false)) {
    t.state.set("LogFileValidationEnabled", true);
    t.state.set("ValidationEnabledTime", clock_.now_seconds());
    keys_.current(account, region);  // ListPublicKeys must never be empty for this trail
  }
  save(t);
  Value out = trail_view(t);
  for (const char* drop : {"HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"}) erase_member(out, drop);
  trails_.emplace(key, std::move(t));
  trail_count_.store(trails_.size(), std::memory_order_release);
  return out;
}

Value TrailStore::update(const std::string& account, const std::string& region, const Value& input) {
  reject_unsupported(input);
  std::lock_guard lock(mutex_);
  Trail& t = find_in_home(account, region, input.str("Name"));
  Value next = t.state;
  if (input.has("S3BucketName")) next.set("S3BucketName", std::string(input.str("S3BucketName")));
  if (input.has("S3KeyPrefix")) {
    std::string prefix(input.str("S3KeyPrefix"));
    if (prefix.size() > 200) throw AwsError("InvalidS3PrefixException", "S3 prefix is longer than 200 characters.", 400);
    if (prefix.empty()) erase_member(next, "S3KeyPrefix");
    else next.set("S3KeyPrefix", prefix);
  }
  // A new bucket or prefix must let CloudTrail write where the files will now go.
  if (input.has("S3BucketName") || input.has("S3KeyPrefix"))
    check_bucket(account, std::string(t.state.str("TrailARN")), std::string(next.str("S3BucketName")), std::string(next.str("S3KeyPrefix")));
  if (input.has("SnsTopicName")) {  // an empty name turns notifications off
    std::string topic(input.str("SnsTopicName"));
    if (topic.empty()) erase_member(next, "SnsTopicARN");
    else next.set("SnsTopicARN", resolve_topic(account, region, topic));
  }
  if (input.has("KmsKeyId")) {  // an empty id turns SSE-KMS off
    std::string id(input.str("KmsKeyId"));
    if (id.empty()) erase_member(next, "KmsKeyId");
    else next.set("KmsKeyId", hooks_.kms.resolve(account, region, id));
  }
  if (input.has("CloudWatchLogsLogGroupArn") || input.has("CloudWatchLogsRoleArn")) {
    std::string group(input.has("CloudWatchLogsLogGroupArn") ? input.str("CloudWatchLogsLogGroupArn") : next.str("CloudWatchLogsLogGroupArn"));
    std::string role(input.has("CloudWatchLogsRoleArn") ? input.str("CloudWatchLogsRoleArn") : next.str("CloudWatchLogsRoleArn"));
    if (group.empty() && role.empty()) {  // both empty: delivery to CloudWatch Logs off
      erase_member(next, "CloudWatchLogsLogGroupArn");
      erase_member(next, "CloudWatchLogsRoleArn");
    } else {
      check_log_group(account, region, group, role);
      next.set("CloudWatchLogsLogGroupArn", group);
      next.set("CloudWatchLogsRoleArn", role);
    }
  }
  if (input.has("IsMultiRegionTrail")) next.set("IsMultiRegionTrail", bool_member(input, "IsMultiRegionTrail", false));
  if (input.has("IncludeGlobalServiceEvents")) next.set("IncludeGlobalServiceEvents", bool_member(input, "IncludeGlobalServiceEvents", true));
  if (bool_member(next, "IsMultiRegionTrail", false) && !bool_member(next, "IncludeGlobalServiceEvents", true))
    throw AwsError("InvalidParameterCombinationException", "Multi-Region trail must include global service events.", 400);
  if (bool_member(next, "IsMultiRegionTrail", false) && !bool_member(t.state, "IsMultiRegionTrail", false))
    for (const auto& [k, other] : trails_)
      if (&other != &t && other.account == account && other.name == t.name)
        throw AwsError("TrailAlreadyExistsException", "Trail " + t.name + " already exists for customer: " + account, 400);
  if (input.has("EnableLogFileValidation")) {
    bool on = bool_member(input, "EnableLogFileValidation", false);
    if (on != bool_member(next, "LogFileValidationEnabled", false)) {
      next.set("LogFileValidationEnabled", on);
      // Either way the chain restarts: disabling leaves a gap the validator sees.
      erase_member(next, "DigestChains");
      erase_member(next, "DigestLogs");
      if (on) {
        next.set("ValidationEnabledTime", clock_.now_seconds());
        keys_.current(account, region);
      }
    }
  }
  t.state = std::move(next);
  save(t);
  Value out = trail_view(t);
  for (const char* drop : {"HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"}) erase_member(out, drop);
  return out;
}

void TrailStore::remove(const std::string& account, const std::string& region, std::string_view name) {
  std::lock_guard lock(mutex_);
  Trail& t = find_in_home(account, region, name);
  Key key = key_of(t.account, t.home_region, t.name);
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, std::string(kTrailPrefix) + key);
  batch.erase_range(store::Keyspace::Meta, pending_base(key), pending_end(key));
  batch.erase_range(store::Keyspace::Meta, pending_base(key, kPendingInsightPrefix), pending_end(key, kPendingInsightPrefix));
  store_.write(batch);
  trails_.erase(key);
  trail_count_.store(trails_.size(), std::memory_order_release);
  sync_insights(account);
}

Value TrailStore::get(const std::string& account, const std::string& region, std::string_view name) const {
  std::lock_guard lock(mutex_);
  Value out = Value::map();
  out.set("Trail", trail_view(find(account, region, name)));
  return out;
}

Value TrailStore::describe(const std::string& account, const std::string& region, const Value& input) const {
  std::lock_guard lock(mutex_);
  bool shadows = bool_member(input, "includeShadowTrails", true);
  Value list = Value::list();
  const Value* names = input.get("trailNameList");
  if (names && names->is_list() && names->size() > 0) {
    for (const Value& n : names->as_list()) {
      if (!n.is_string()) continue;
      try {
        const Trail& t = find(account, region, n.as_string());
        if (t.home_region != region && !shadows) continue;
        list.push(trail_view(t));
      } catch (const AwsError& e) {
        if (e.code() != "TrailNotFoundException") throw;  // unknown names are left out, as AWS does
      }
    }
  } else {
    for (const auto& [key, t] : trails_) {
      if (t.account != account) continue;
      bool home = t.home_region == region;
      if (home || (shadows && bool_member(t.state, "IsMultiRegionTrail", false))) list.push(trail_view(t));
    }
  }
  Value out = Value::map();
  out.set("trailList", std::move(list));
  return out;
}

Value TrailStore::list(const std::string& account, const std::string& region) const {
  std::lock_guard lock(mutex_);
  Value list = Value::list();
  for (const auto& [key, t] : trails_) {
    if (t.account != account || (t.home_region != region && !bool_member(t.state, "IsMultiRegionTrail", false))) continue;
    Value info = Value::map();
    info.set("TrailARN", std::string(t.state.str("TrailARN")));
    info.set("Name", t.name);
    info.set("HomeRegion", t.home_region);
    list.push(std::move(info));
  }
  Value out = Value::map();
  out.set("Trails", std::move(list));
  return out;
}

Value TrailStore::status(const std::string& account, const std::string& region, std::string_view name) const {
  std::lock_guard lock(mutex_);
  const Trail& t = find(account, region, name);
  const Value& s = t.state;
  Value out = Value::map();
  out.set("IsLogging", bool_member(s, "IsLogging", false));
  auto time_member = [&](std::string_view stored, const char* date, const char* text) {
    double at = s.f64(stored, 0);
    if (at <= 0) return;
    out.set(date, Timestamp{at});
    if (text) out.set(text, format_iso8601(at));
  };
  time_member("LatestDeliveryTime", "LatestDeliveryTime", nullptr);
  time_member("LatestDigestDeliveryTime", "LatestDigestDeliveryTime", nullptr);
  time_member("StartLoggingTime", "StartLoggingTime", "TimeLoggingStarted");
  time_member("StopLoggingTime", "StopLoggingTime", "TimeLoggingStopped");
  double attempt = s.f64("LatestDeliveryAttemptTime", 0);
  if (attempt > 0) {
    out.set("LatestDeliveryAttemptTime", format_iso8601(attempt));
    double ok = s.f64("LatestDeliveryTime", 0);
    out.set("LatestDeliveryAttemptSucceeded", ok >= attempt ? format_iso8601(ok) : std::string());
  }
  if (!s.str("LatestDeliveryError").empty()) out.set("LatestDeliveryError", std::string(s.str("LatestDeliveryError")));
  time_member("LatestNotificationTime", "LatestNotificationTime", nullptr);
  if (!s.str("LatestNotificationError").empty()) out.set("LatestNotificationError", std::string(s.str("LatestNotificationError")));
  double notified = s.f64("LatestNotificationAttemptTime", 0);
  out.set("LatestNotificationAttemptTime", notified > 0 ? format_iso8601(notified) : std::string());
  double notified_ok = s.f64("LatestNotificationTime", 0);
  out.set("LatestNotificationAttemptSucceeded", notified > 0 && notified_ok >= notified ? format_iso8601(notified_ok) : std::string());
  time_member("LatestCloudWatchLogsDeliveryTime", "LatestCloudWatchLogsDeliveryTime", nullptr);
  if (!s.str("LatestCloudWatchLogsDeliveryError").empty())
    out.set("LatestCloudWatchLogsDeliveryError", std::string(s.str("LatestCloudWatchLogsDeliveryError")));
  return out;
}

void TrailStore::set_logging(const std::string& account, const std::string& region, std::string_view name, bool on) {
  std::lock_guard lock(mutex_);
  Trail& t = find_in_home(account, region, name);
  if (bool_member(t.state, "IsLogging", false) == on) return;
  t.state.set("IsLogging", on);
  t.state.set(on ? "StartLoggingTime" : "StopLoggingTime", clock_.now_seconds());
  if (on) erase_member(t.state, "DigestChains");  // a restart begins a new digest chain (a gap)
  save(t);
}

Value TrailStore::put_event_selectors(const std::string& account, const std::string& region, const Value& input) {
  const Value* selectors = input.get("EventSelectors");
  if (const Value* advanced = input.get("AdvancedEventSelectors")) {
    if (selectors) throw AwsError("InvalidParameterCombinationException", "You cannot specify both EventSelectors and AdvancedEventSelectors.", 400);
    validate_trail_selectors(*advanced);
    std::lock_guard lock(mutex_);
    Trail& t = find_in_home(account, region, input.str("TrailName"));
    // As in AWS, advanced selectors replace the basic ones (and the other way round).
    erase_member(t.state, "EventSelectors");
    t.state.set("AdvancedEventSelectors", *advanced);
    t.state.set("HasCustomEventSelectors", true);
    save(t);
    Value out = Value::map();
    out.set("TrailARN", std::string(t.state.str("TrailARN")));
    out.set("AdvancedEventSelectors", *advanced);
    return out;
  }
  if (!selectors || !selectors->is_list() || selectors->size() == 0 || selectors->size() > kMaxSelectors)
    throw AwsError("InvalidEventSelectorsException", "Specify between 1 and 5 event selectors.", 400);
  Value stored = Value::list();
  size_t values = 0;
  for (const Value& in : selectors->as_list()) {
    Value s = Value::map();
    std::string rw(in.str("ReadWriteType", "All"));
    if (rw != "All" && rw != "ReadOnly" && rw != "WriteOnly")
      throw AwsError("InvalidEventSelectorsException", "ReadWriteType " + rw + " is not valid.", 400);
    s.set("ReadWriteType", rw);
    s.set("IncludeManagementEvents", bool_member(in, "IncludeManagementEvents", true));
    Value resources = Value::list();
    if (const Value* drs = in.get("DataResources"); drs && drs->is_list()) {
      for (const Value& dr : drs->as_list()) {
        std::string type(dr.str("Type"));
        if (type != "AWS::S3::Object" && type != "AWS::Lambda::Function" && type != "AWS::DynamoDB::Table")
          throw AwsError("InvalidEventSelectorsException", "Value " + type + " for DataResources.Type is invalid.", 400);
        std::string arn_start = type == "AWS::S3::Object" ? "arn:aws:s3" : type == "AWS::Lambda::Function" ? "arn:aws:lambda" : "arn:aws:dynamodb";
        Value vals = Value::list();
        if (const Value* vs = dr.get("Values"); vs && vs->is_list())
          for (const Value& v : vs->as_list()) {
            std::string value = v.is_string() ? v.as_string() : std::string();
            if (value.rfind(arn_start, 0) != 0)
              throw AwsError("InvalidEventSelectorsException", "Value " + value + " for DataResources.Values is invalid.", 400);
            vals.push(value);
            ++values;
          }
        Value r = Value::map();
        r.set("Type", type);
        r.set("Values", std::move(vals));
        resources.push(std::move(r));
      }
    }
    s.set("DataResources", std::move(resources));
    Value excluded = Value::list();
    if (const Value* ex = in.get("ExcludeManagementEventSources"); ex && ex->is_list())
      for (const Value& e : ex->as_list())
        if (e.is_string()) excluded.push(e.as_string());
    s.set("ExcludeManagementEventSources", std::move(excluded));
    stored.push(std::move(s));
  }
  if (values > 250) throw AwsError("InvalidEventSelectorsException", "A trail can have at most 250 data resource values.", 400);
  std::lock_guard lock(mutex_);
  Trail& t = find_in_home(account, region, input.str("TrailName"));
  erase_member(t.state, "AdvancedEventSelectors");
  t.state.set("EventSelectors", stored);
  t.state.set("HasCustomEventSelectors", true);
  save(t);
  Value out = Value::map();
  out.set("TrailARN", std::string(t.state.str("TrailARN")));
  out.set("EventSelectors", std::move(stored));
  return out;
}

Value TrailStore::get_event_selectors(const std::string& account, const std::string& region, std::string_view name) const {
  std::lock_guard lock(mutex_);
  const Trail& t = find(account, region, name);
  Value out = Value::map();
  out.set("TrailARN", std::string(t.state.str("TrailARN")));
  if (const Value* advanced = t.state.get("AdvancedEventSelectors")) {
    out.set("AdvancedEventSelectors", *advanced);
    return out;
  }
  const Value* s = t.state.get("EventSelectors");
  out.set("EventSelectors", s ? *s : default_selectors());
  return out;
}

namespace {

// Whether the trail's event selectors log management events: any, or write ones.
bool logs_management(const Value& state, bool write) {
  if (const Value* advanced = state.get("AdvancedEventSelectors")) return lake_selectors_want_management(*advanced, write);
  const Value* selectors = state.get("EventSelectors");
  if (!selectors || !selectors->is_list()) return true;  // the default selector: all management events
  for (const Value& sel : selectors->as_list()) {
    if (!bool_member(sel, "IncludeManagementEvents", true)) continue;
    if (!write || sel.str("ReadWriteType", "All") != "ReadOnly") return true;
  }
  return false;
}

AwsError insights_on_event_data_stores() {
  return AwsError("UnsupportedOperationException", "Vigil does not support Insights on event data stores yet (see docs/coverage.md).", 400);
}

}  // namespace

Value TrailStore::put_insight_selectors(const std::string& account, const std::string& region, const Value& input) {
  bool trail = input.has("TrailName");
  bool eds = input.has("EventDataStore") || input.has("InsightsDestination");
  if (trail && eds)
    throw AwsError("InvalidParameterCombinationException", "You cannot specify TrailName together with EventDataStore or InsightsDestination.", 400);
  if (eds) throw insights_on_event_data_stores();
  if (input.str("TrailName").empty()) throw AwsError("InvalidTrailNameException", "Trail name cannot be empty.", 400);
  const Value* selectors = input.get("InsightSelectors");
  if (!selectors || !selectors->is_list()) throw AwsError("InvalidInsightSelectorsException", "InsightSelectors must be a list of Insights types.", 400);
  Value stored = Value::list();
  uint8_t mask = 0;
  for (const Value& in : selectors->as_list()) {
    std::string type(in.str("InsightType"));
    InsightType t;
    if (type == "ApiCallRateInsight") t = kApiCallRate;
    else if (type == "ApiErrorRateInsight") t = kApiErrorRate;
    else
      throw AwsError("InvalidInsightSelectorsException",
                     "Insight type " + type + " is not valid. Valid values are ApiCallRateInsight and ApiErrorRateInsight.", 400);
    if (mask & t) throw AwsError("InvalidInsightSelectorsException", "Insight type " + type + " is specified more than once.", 400);
    mask |= t;
    Value categories = Value::list();
    if (const Value* cats = in.get("EventCategories"); cats && cats->is_list() && cats->size() > 0) {
      for (const Value& c : cats->as_list()) {
        std::string category = c.is_string() ? c.as_string() : std::string();
        if (category == "Data")
          throw AwsError("UnsupportedOperationException", "Vigil does not support Insights on data events yet (see docs/coverage.md).", 400);
        if (category != "Management")
          throw AwsError("InvalidInsightSelectorsException", "Event category " + category + " is not valid. Valid values are Management and Data.", 400);
      }
    }
    categories.push("Management");
    Value sel = Value::map();
    sel.set("InsightType", type);
    sel.set("EventCategories", std::move(categories));
    stored.push(std::move(sel));
  }
  std::lock_guard lock(mutex_);
  Trail& t = find_in_home(account, region, input.str("TrailName"));
  // AWS: the call rate needs the trail to log write management events, the error rate read or
  // write management events.
  if ((mask & kApiCallRate) && !logs_management(t.state, true))
    throw AwsError("InvalidInsightSelectorsException",
                   "To log ApiCallRateInsight events, the trail must log write management events.", 400);
  if ((mask & kApiErrorRate) && !logs_management(t.state, false))
    throw AwsError("InvalidInsightSelectorsException", "To log ApiErrorRateInsight events, the trail must log management events.", 400);
  // Insights files go to the trail's bucket too: CloudTrail must still be allowed to write there.
  if (mask) check_bucket(account, std::string(t.state.str("TrailARN")), std::string(t.state.str("S3BucketName")), std::string(t.state.str("S3KeyPrefix")));
  if (mask) t.state.set("InsightSelectors", stored);
  else erase_member(t.state, "InsightSelectors");
  t.insight_types = mask;
  save(t);
  sync_insights(account);
  Value out = Value::map();
  out.set("TrailARN", std::string(t.state.str("TrailARN")));
  out.set("InsightSelectors", std::move(stored));
  return out;
}

Value TrailStore::get_insight_selectors(const std::string& account, const std::string& region, const Value& input) const {
  bool trail = input.has("TrailName");
  if (trail && input.has("EventDataStore"))
    throw AwsError("InvalidParameterCombinationException", "You cannot specify TrailName together with EventDataStore.", 400);
  if (input.has("EventDataStore")) throw insights_on_event_data_stores();
  if (input.str("TrailName").empty()) throw AwsError("InvalidTrailNameException", "Trail name cannot be empty.", 400);
  std::lock_guard lock(mutex_);
  const Trail& t = find(account, region, input.str("TrailName"));
  const Value* selectors = t.state.get("InsightSelectors");
  if (!selectors || !selectors->is_list() || selectors->size() == 0)
    throw AwsError("InsightNotEnabledException", "Trail " + std::string(t.state.str("TrailARN")) + " does not have Insights enabled.", 400);
  Value out = Value::map();
  out.set("TrailARN", std::string(t.state.str("TrailARN")));
  out.set("InsightSelectors", *selectors);
  return out;
}

void TrailStore::add_tags(const std::string& account, const std::string& region, const Value& input) {
  std::string id(input.str("ResourceId"));
  if (id.rfind("arn:", 0) != 0) throw AwsError("CloudTrailARNInvalidException", "ARN " + id + " is invalid.", 400);
  std::lock_guard lock(mutex_);
  Trail& t = const_cast<Trail&>(find(account, region, id));
  Value tags = t.state.get("Tags") ? *t.state.get("Tags") : empty_tags();
  merge_tags(tags, input.get("TagsList"), "trail");
  t.state.set("Tags", std::move(tags));
  save(t);
}

void TrailStore::remove_tags(const std::string& account, const std::string& region, const Value& input) {
  std::string id(input.str("ResourceId"));
  if (id.rfind("arn:", 0) != 0) throw AwsError("CloudTrailARNInvalidException", "ARN " + id + " is invalid.", 400);
  std::lock_guard lock(mutex_);
  Trail& t = const_cast<Trail&>(find(account, region, id));
  t.state.set("Tags", without_tags(t.state.get("Tags"), input.get("TagsList")));
  save(t);
}

Value TrailStore::list_tags(const std::string& account, const std::string& region, const Value& input) const {
  std::lock_guard lock(mutex_);
  Value list = Value::list();
  if (const Value* ids = input.get("ResourceIdList"); ids && ids->is_list()) {
    if (ids->size() > 20) throw AwsError("InvalidParameterException", "ResourceIdList can contain at most 20 ARNs.", 400);
    for (const Value& id : ids->as_list()) {
      std::string arn = id.is_string() ? id.as_string() : std::string();
      if (arn.rfind("arn:", 0) != 0) throw AwsError("CloudTrailARNInvalidException", "ARN " + arn + " is invalid.", 400);
      const Trail& t = find(account, region, arn);
      Value r = Value::map();
      r.set("ResourceId", arn);
      r.set("TagsList", t.state.get("Tags") ? *t.state.get("Tags") : empty_tags());
      list.push(std::move(r));
    }
  }
  Value out = Value::map();
  out.set("ResourceTagList", std::move(list));
  return out;
}

bool TrailStore::selects(const Trail& trail, const BusEvent& event, const Value& record) const {
  const Value& s = trail.state;
  if (trail.account != event.account) return false;
  if (event.region != trail.home_region && !bool_member(s, "IsMultiRegionTrail", false)) return false;
  if (!bool_member(s, "IsLogging", false)) {
    // As in AWS, the StopLogging call that stopped the trail is still in its logs (the record is
    // made after the call, when the trail has already stopped).
    const Value* params = record.get("requestParameters");
    std::string_view target = params && params->is_map() ? params->str("name") : std::string_view();
    bool own_stop = record.str("eventSource") == "cloudtrail.amazonaws.com" && record.str("eventName") == "StopLogging" &&
                    !record.has("errorCode") && (target == trail.name || target == s.str("TrailARN")) &&
                    s.f64("StopLoggingTime", 0) >= event.time - 0.001;
    if (!own_stop) return false;
  }
  if (const Value* advanced = s.get("AdvancedEventSelectors")) return lake_selectors_match(*advanced, record);
  bool management = bool_member(record, "managementEvent", true);
  bool read_only = bool_member(record, "readOnly", false);
  std::string_view source = record.str("eventSource");
  const Value* selectors = s.get("EventSelectors");
  if (!selectors || !selectors->is_list()) return management;
  for (const Value& sel : selectors->as_list()) {
    std::string_view rw = sel.str("ReadWriteType", "All");
    if ((rw == "ReadOnly" && !read_only) || (rw == "WriteOnly" && read_only)) continue;
    if (management) {
      if (!bool_member(sel, "IncludeManagementEvents", true)) continue;
      bool excluded = false;
      if (const Value* ex = sel.get("ExcludeManagementEventSources"); ex && ex->is_list())
        for (const Value& e : ex->as_list()) excluded = excluded || (e.is_string() && e.as_string() == source);
      if (!excluded) return true;
      continue;
    }
    const Value* drs = sel.get("DataResources");
    if (!drs || !drs->is_list()) continue;
    // The data resources of the record: (type, ARN). S3 object events name the object in
    // requestParameters (arn:aws:s3:::bucket/key, the form selectors use).
    std::vector<std::pair<std::string, std::string>> touched;
    if (const Value* resources = record.get("resources"); resources && resources->is_list())
      for (const Value& r : resources->as_list()) touched.emplace_back(r.str("type"), r.str("ARN"));
    if (source == "s3.amazonaws.com")
      if (const Value* params = record.get("requestParameters"); params && params->is_map() && !params->str("bucketName").empty())
        touched.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + std::string(params->str("bucketName")) + "/" + std::string(params->str("key")));
    for (const Value& dr : drs->as_list())
      for (const auto& [type, arn] : touched) {
        if (type != dr.str("Type")) continue;
        if (const Value* vals = dr.get("Values"); vals && vals->is_list())
          for (const Value& v : vals->as_list())
            if (v.is_string() && arn.compare(0, v.as_string().size(), v.as_string()) == 0) return true;
      }
  }
  return false;
}

bool TrailStore::wants_data_events(const std::string& account) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, t] : trails_) {
    if (t.account != account || !bool_member(t.state, "IsLogging", false)) continue;
    if (const Value* advanced = t.state.get("AdvancedEventSelectors"); advanced && lake_selectors_want_data(*advanced)) return true;
    if (const Value* sels = t.state.get("EventSelectors"); sels && sels->is_list())
      for (const Value& sel : sels->as_list())
        if (const Value* drs = sel.get("DataResources"); drs && drs->is_list() && drs->size() > 0) return true;
  }
  return false;
}

void TrailStore::on_event(const BusEvent& event) {
  if (event.detail_type == kInsightDetailType) return on_insight(event);
  if (event.detail_type != "AWS API Call via CloudTrail") return;
  if (trail_count_.load(std::memory_order_acquire) == 0) return;  // every API call: no lock, no parse
  Value parsed;
  const Value& record = call_record(event, parsed);
  std::vector<Key> targets;
  uint8_t insight_types = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, t] : trails_) {
      if (selects(t, event, record)) targets.push_back(key);
      if (t.insight_types && t.account == event.account && bool_member(t.state, "IsLogging", false) &&
          (t.home_region == event.region || bool_member(t.state, "IsMultiRegionTrail", false)))
        insight_types |= t.insight_types;
    }
  }
  // Insights analyse management events only; the detector's cost is one hash-map increment.
  if (insights_ && insight_types && bool_member(record, "managementEvent", true)) {
    const Value& r = record;
    const Value* identity = r.get("userIdentity");
    InsightCall call;
    call.account = event.account;
    call.region = event.region;
    call.event_source = r.str("eventSource");
    call.event_name = r.str("eventName");
    call.error_code = r.str("errorCode");
    call.user_arn = identity ? identity->str("arn") : std::string_view();
    call.user_agent = r.str("userAgent");
    call.read_only = bool_member(r, "readOnly", false);
    call.time = event.time;
    insights_->count(call, insight_types);
  }
  if (targets.empty()) return;
  const std::string json = event.detail_json.empty() ? protocol::value_to_json(record, nullptr, /*keep_nulls=*/true) : event.detail_json;
  store::WriteBatch batch(store_);
  for (const Key& key : targets) {
    std::string k = pending_base(key);
    append_u64(k, sequence_.fetch_add(1));
    batch.put(store::Keyspace::Meta, k, json);
  }
  // Like the event history: in the WAL now, synced with the next synced write.
  store_.write(batch, store::Durability::Buffered);
}

void TrailStore::on_insight(const BusEvent& event) {
  std::string_view type = event.detail.get("insightDetails") ? event.detail.get("insightDetails")->str("insightType") : std::string_view();
  uint8_t bit = type == "ApiCallRateInsight" ? kApiCallRate : type == "ApiErrorRateInsight" ? kApiErrorRate : 0;
  std::vector<std::pair<Key, std::string>> targets;  // with the trail's insight_key
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, t] : trails_)
      if ((t.insight_types & bit) && t.account == event.account && bool_member(t.state, "IsLogging", false) &&
          (t.home_region == event.region || bool_member(t.state, "IsMultiRegionTrail", false)))
        targets.emplace_back(key, insight_key(t.state));
  }
  if (targets.empty()) return;
  std::string json = protocol::value_to_json(event.detail, nullptr, /*keep_nulls=*/true);
  store::WriteBatch batch(store_);
  for (const auto& [key, trail] : targets) {
    std::string k = pending_base(key, kPendingInsightPrefix);
    append_u64(k, sequence_.fetch_add(1));
    batch.put(store::Keyspace::Meta, k, json);
    // ListInsightsData lists a trail's events from these entries: written with the pending
    // event, so what a trail lists is what it delivers.
    if (std::string entry = insight_trail_key(event.account, event.region, trail, event.detail); !entry.empty())
      batch.put(store::Keyspace::AuditIndex, entry, {});
  }
  store_.write(batch);
}

int TrailStore::deliver() {
  std::lock_guard run(delivery_mutex_);
  std::vector<Key> keys;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, t] : trails_) keys.push_back(key);
  }
  int files = 0;
  // A pass takes at most 10 files' worth of pending records (bounded memory); a backlog is
  // drained pass after pass in the same run, so delivery keeps up with any call rate instead
  // of 50 000 events per interval.
  for (const Key& key : keys) {
    for (Files kind : {Files::Log, Files::Insight}) {
      bool more = true;
      while (more) files += deliver_trail(key, kind, more);
    }
  }
  return files;
}

int TrailStore::deliver_trail(const Key& key, Files kind, bool& more) {
  const bool logs = kind == Files::Log;
  const std::string_view pending_prefix = logs ? kPendingPrefix : kPendingInsightPrefix;
  const std::string folder = logs ? "CloudTrail" : "CloudTrail-Insight";
  more = false;
  std::string account, home, bucket, prefix, arn, topic, log_group, kms_key;
  {
    std::lock_guard lock(mutex_);
    auto it = trails_.find(key);
    if (it == trails_.end()) return 0;
    account = it->second.account;
    home = it->second.home_region;
    bucket = std::string(it->second.state.str("S3BucketName"));
    prefix = std::string(it->second.state.str("S3KeyPrefix"));
    arn = std::string(it->second.state.str("TrailARN"));
    topic = std::string(it->second.state.str("SnsTopicARN"));
    log_group = parse_log_group_arn(it->second.state.str("CloudWatchLogsLogGroupArn")).name;
    kms_key = std::string(it->second.state.str("KmsKeyId"));
  }
  // Pending records by region, in arrival order.
  struct Pending {
    std::string store_key, json, event_time;
  };
  std::map<std::string, std::vector<Pending>> by_region;
  std::string end = pending_end(key, pending_prefix);
  auto it = store_.iterate(store::Keyspace::Meta, pending_base(key, pending_prefix), end);
  size_t taken = 0;
  for (it->seek(pending_base(key, pending_prefix)); it->valid() && taken < 10 * kMaxDeliveryRecords; it->next(), ++taken) {
    std::string json(it->value());
    std::string region = home, event_time;
    try {
      Value record = protocol::json_to_value(json, nullptr);
      if (!record.str("awsRegion").empty()) region = std::string(record.str("awsRegion"));
      event_time = std::string(record.str("eventTime"));
    } catch (...) {
    }
    by_region[region].push_back({std::string(it->key()), std::move(json), std::move(event_time)});
  }
  if (by_region.empty()) return 0;

  double now = clock_.now_seconds();
  int files = 0;
  std::string error;
  double delivered_at = 0;
  Value delivered_logs = Value::list();  // for the digest files
  double notify_attempt = 0, notified_at = 0, logs_attempt = 0, logs_delivered_at = 0;
  std::string notify_error, logs_error;
  for (auto& [region, records] : by_region) {
    for (size_t start = 0; start < records.size(); start += kMaxDeliveryRecords) {
      size_t stop = std::min(records.size(), start + kMaxDeliveryRecords);
      std::string body = "{\"Records\":[";
      std::string oldest, newest;
      for (size_t i = start; i < stop; ++i) {
        if (i > start) body += ',';
        body += records[i].json;
        const std::string& et = records[i].event_time;
        if (!et.empty() && (oldest.empty() || et < oldest)) oldest = et;
        if (!et.empty() && (newest.empty() || et > newest)) newest = et;
      }
      body += "]}";
      std::tm tm = utc(now);
      char date[16], stamp[32];
      std::strftime(date, sizeof date, "%Y/%m/%d", &tm);
      std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%MZ", &tm);
      std::string object_key = prefix.empty() ? std::string() : prefix + "/";
      object_key += "AWSLogs/" + account + "/" + folder + "/" + region + "/" + date + "/" + account + "_" + folder + "_" + region + "_" + stamp +
                    "_" + random_alnum(16) + ".json.gz";
      try {
        if (std::string denied = bucket_access(account, arn, bucket, "arn:aws:s3:::" + bucket + "/" + object_key); !denied.empty())
          throw AwsError(denied, denied == "NoSuchBucket" ? "The specified bucket does not exist" : "Access Denied", denied == "NoSuchBucket" ? 404 : 403);
        s3::ObjectRecord meta;
        meta.content_type = "application/json";
        meta.headers.emplace_back("ContentEncoding", "gzip");  // as AWS delivers them
        if (!kms_key.empty()) {  // SSE-KMS with the trail's key; a key that cannot encrypt fails the delivery, as in AWS
          if (std::string problem = hooks_.kms.problem_of(kms_key); !problem.empty())
            throw AwsError("KMS." + problem, kms_key + " cannot be used", 400);
          meta.encryption.algorithm = "aws:kms";
          meta.encryption.kms_key_arn = kms_key;
        }
        objects_.put(bucket, object_key, gzip(body), meta, now);
      } catch (const AwsError& e) {
        error = e.code();
        break;
      } catch (const std::exception& e) {
        error = "InternalFailure";
        break;
      }
      store::WriteBatch done(store_);
      for (size_t i = start; i < stop; ++i) done.erase(store::Keyspace::Meta, records[i].store_key);
      store_.write(done);
      Value log = Value::map();
      log.set("region", region);
      log.set("s3Bucket", bucket);
      log.set("s3Object", object_key);
      // The AWS CLI hashes the decompressed content.
      log.set("hashValue", sha256_hex(body));
      log.set("hashAlgorithm", "SHA-256");
      log.set("newestEventTime", newest.empty() ? Value() : Value(newest));
      log.set("oldestEventTime", oldest.empty() ? Value() : Value(oldest));
      delivered_logs.push(std::move(log));
      ++files;
      delivered_at = now;
      // One notification per log file, in AWS's format.
      if (logs && !topic.empty()) {
        Value note = Value::map();
        Value keys = Value::list();
        keys.push(object_key);
        note.set("s3Bucket", bucket);
        note.set("s3ObjectKey", std::move(keys));
        notify_attempt = now;
        if (hooks_.publish && hooks_.publish(account, home, topic, protocol::value_to_json(note))) {
          notified_at = now;
          notify_error.clear();
        } else {
          notify_error = "NotFound";  // SNS's code for a topic that no longer exists
        }
      }
      // The same records as log events in the trail's log group (home region), one stream per
      // region the events happened in. Insights events too: AWS's user guide ("Logging Insights
      // events", Sending events to CloudWatch Logs) has the trail deliver its management and
      // Insights events to the group; they share the stream of their region.
      if (!log_group.empty()) {
        TrailHooks::LogEvents events;
        events.reserve(stop - start);
        for (size_t i = start; i < stop; ++i) events.emplace_back(event_millis(records[i].event_time, now), records[i].json);
        std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        logs_attempt = now;
        std::string problem = hooks_.put_log_events ? hooks_.put_log_events(account, home, log_group, account + "_CloudTrail_" + region, events)
                                                    : std::string("ResourceNotFoundException");
        if (problem.empty()) {
          logs_delivered_at = now;
          logs_error.clear();
        } else {
          logs_error = problem;
        }
      }
    }
    if (!error.empty()) break;
  }

  std::lock_guard lock(mutex_);
  auto t = trails_.find(key);
  if (t == trails_.end()) return files;
  t->second.state.set("LatestDeliveryAttemptTime", now);
  if (delivered_at > 0) t->second.state.set("LatestDeliveryTime", delivered_at);
  if (!error.empty()) t->second.state.set("LatestDeliveryError", error);
  else erase_member(t->second.state, "LatestDeliveryError");
  if (notify_attempt > 0) {
    t->second.state.set("LatestNotificationAttemptTime", notify_attempt);
    if (notified_at > 0) t->second.state.set("LatestNotificationTime", notified_at);
    if (!notify_error.empty()) t->second.state.set("LatestNotificationError", notify_error);
    else erase_member(t->second.state, "LatestNotificationError");
  }
  if (logs_attempt > 0) {
    if (logs_delivered_at > 0) t->second.state.set("LatestCloudWatchLogsDeliveryTime", logs_delivered_at);
    if (!logs_error.empty()) t->second.state.set("LatestCloudWatchLogsDeliveryError", logs_error);
    else erase_member(t->second.state, "LatestCloudWatchLogsDeliveryError");
  }
  if (logs && bool_member(t->second.state, "LogFileValidationEnabled", false) && delivered_logs.size() > 0) {
    Value logs = t->second.state.get("DigestLogs") ? *t->second.state.get("DigestLogs") : Value::list();
    for (const Value& l : delivered_logs.as_list()) logs.push(l);
    t->second.state.set("DigestLogs", std::move(logs));
  }
  save(t->second);
  more = taken == 10 * kMaxDeliveryRecords && error.empty();
  return files;
}

namespace {
std::string iso_seconds(double t) {
  std::tm tm = utc(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

int TrailStore::digest() {
  std::lock_guard run(delivery_mutex_);
  std::vector<Key> keys;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, t] : trails_)
      if (bool_member(t.state, "LogFileValidationEnabled", false)) keys.push_back(key);
  }
  int written = 0;
  for (const Key& key : keys) {
    Trail snapshot;
    {
      std::lock_guard lock(mutex_);
      auto it = trails_.find(key);
      if (it == trails_.end()) continue;
      snapshot = it->second;
    }
    const Value& s = snapshot.state;
    bool logging = bool_member(s, "IsLogging", false);
    std::string bucket(s.str("S3BucketName")), prefix(s.str("S3KeyPrefix"));
    Value chains = s.get("DigestChains") && s.get("DigestChains")->is_map() ? *s.get("DigestChains") : Value::map();
    const Value* logs = s.get("DigestLogs");
    // Regions to digest: the home region while logging, every chained region while logging,
    // and any region with delivered logs not yet in a digest.
    std::map<std::string, Value> region_logs;
    if (logging) {
      region_logs[snapshot.home_region] = Value::list();
      for (const auto& [r, c] : chains.as_map()) region_logs[r] = Value::list();
    }
    size_t consumed = logs && logs->is_list() ? logs->size() : 0;
    if (logs && logs->is_list())
      for (const Value& l : logs->as_list()) {
        Value entry = l;
        std::string r(l.str("region"));
        erase_member(entry, "region");
        auto [pos, fresh] = region_logs.try_emplace(r, Value::list());
        pos->second.push(std::move(entry));
      }
    double now = std::floor(clock_.now_seconds());
    double chain_start = std::max(s.f64("ValidationEnabledTime", 0), s.f64("StartLoggingTime", 0));
    Value new_chains = Value::map();
    bool failed = false;
    for (auto& [region, files] : region_logs) {
      const Value* prev = chains.get(region);
      double start = prev ? prev->f64("End", now) : std::floor(chain_start > 0 ? chain_start : now);
      if (prev && now <= prev->f64("End", 0)) {  // same second as the previous digest: next run
        new_chains.set(region, *prev);
        continue;
      }
      std::string end_text = iso_seconds(now);
      std::tm tm = utc(now);
      char date[16], stamp[32];
      std::strftime(date, sizeof date, "%Y/%m/%d", &tm);
      std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
      std::string object_key = prefix.empty() ? std::string() : prefix + "/";
      object_key += "AWSLogs/" + snapshot.account + "/CloudTrail-Digest/" + region + "/" + date + "/" + snapshot.account + "_CloudTrail-Digest_" +
                    region + "_" + snapshot.name + "_" + snapshot.home_region + "_" + stamp + ".json.gz";
      std::string oldest, newest;
      for (const Value& f : files.as_list()) {
        std::string o(f.str("oldestEventTime")), n(f.str("newestEventTime"));
        if (!o.empty() && (oldest.empty() || o < oldest)) oldest = o;
        if (!n.empty() && (newest.empty() || n > newest)) newest = n;
      }
      try {
        SigningKey signing = keys_.current(snapshot.account, region);
        Value d = Value::map();
        d.set("awsAccountId", snapshot.account);
        d.set("digestStartTime", iso_seconds(start));
        d.set("digestEndTime", end_text);
        d.set("digestS3Bucket", bucket);
        d.set("digestS3Object", object_key);
        d.set("digestPublicKeyFingerprint", signing.fingerprint);
        d.set("digestSignatureAlgorithm", "SHA256withRSA");
        d.set("newestEventTime", newest.empty() ? Value() : Value(newest));
        d.set("oldestEventTime", oldest.empty() ? Value() : Value(oldest));
        d.set("previousDigestS3Bucket", prev ? Value(std::string(prev->str("Bucket"))) : Value());
        d.set("previousDigestS3Object", prev ? Value(std::string(prev->str("Object"))) : Value());
        d.set("previousDigestHashValue", prev ? Value(std::string(prev->str("Hash"))) : Value());
        d.set("previousDigestHashAlgorithm", prev ? Value("SHA-256") : Value());
        d.set("previousDigestSignature", prev ? Value(std::string(prev->str("Signature"))) : Value());
        d.set("logFiles", files);
        std::string json = protocol::value_to_json(d, nullptr, /*keep_nulls=*/true);
        std::string hash = sha256_hex(json);
        std::string to_sign = end_text + "\n" + bucket + "/" + object_key + "\n" + hash + "\n" + (prev ? std::string(prev->str("Signature")) : "null");
        std::string signature = hex_encode(SigningKeys::sign(signing, to_sign));
        if (std::string denied = bucket_access(snapshot.account, std::string(s.str("TrailARN")), bucket, "arn:aws:s3:::" + bucket + "/" + object_key);
            !denied.empty())
          throw AwsError(denied, "Access Denied", 403);
        s3::ObjectRecord meta;
        meta.content_type = "application/json";
        meta.headers.emplace_back("ContentEncoding", "gzip");
        meta.metadata.emplace_back("signature", signature);
        meta.metadata.emplace_back("signature-algorithm", "SHA256withRSA");
        if (!s.str("KmsKeyId").empty()) meta.encryption.algorithm = "AES256";  // AWS: digests are SSE-S3 even when log files are SSE-KMS
        objects_.put(bucket, object_key, gzip(json), meta, clock_.now_seconds());
        Value link = Value::map();
        link.set("Bucket", bucket);
        link.set("Object", object_key);
        link.set("Hash", hash);
        link.set("Signature", signature);
        link.set("End", now);
        new_chains.set(region, std::move(link));
        ++written;
      } catch (const std::exception&) {
        failed = true;  // keep the logs for the next run
        if (prev) new_chains.set(region, *prev);
      }
    }
    std::lock_guard lock(mutex_);
    auto it = trails_.find(key);
    if (it == trails_.end() || !bool_member(it->second.state, "LogFileValidationEnabled", false)) continue;
    Value& st = it->second.state;
    // Logs delivered after the snapshot stay for the next digest.
    if (!failed) {
      Value rest = Value::list();
      if (const Value* cur = st.get("DigestLogs"); cur && cur->is_list())
        for (size_t i = consumed; i < cur->size(); ++i) rest.push(cur->as_list()[i]);
      st.set("DigestLogs", std::move(rest));
    }
    // A stopped trail's chain ends with its last digest: the next one starts a new chain.
    if (bool_member(st, "IsLogging", false)) st.set("DigestChains", std::move(new_chains));
    else erase_member(st, "DigestChains");
    if (written > 0) st.set("LatestDigestDeliveryTime", clock_.now_seconds());
    save(it->second);
  }
  return written;
}

std::string TrailStore::insight_source(const std::string& account, const std::string& region, std::string_view arn) const {
  if (arn.rfind("arn:", 0) == 0 && arn.find(":eventdatastore/") != std::string_view::npos)
    throw AwsError("UnsupportedOperationException", "ListInsightsData lists the Insights events of trails; event data stores answer Lake queries.", 400);
  auto invalid = [&](const std::string& why) {
    return AwsError("InvalidParameterException", "InsightSource " + std::string(arn) + " " + why, 400);
  };
  if (arn.rfind("arn:", 0) != 0) throw invalid("is not a trail ARN.");
  std::lock_guard lock(mutex_);
  try {
    return insight_key(find(account, region, arn).state);
  } catch (const AwsError& e) {
    // The operation's documented errors have no TrailNotFoundException: an ARN that names no
    // trail of the caller visible in this region is a parameter that is not valid.
    if (e.code() == "TrailNotFoundException") throw invalid("does not name a trail of account " + account + " in " + region + ".");
    throw invalid("is not a trail ARN.");
  }
}

Value TrailStore::list_insights_metric_data(const std::string& account, const std::string& region, const Value& input) const {
  if (input.has("TrailName"))
    throw AwsError("UnsupportedOperationException", "Vigil analyses Insights on management events only; TrailName (Insights on data events) is not supported yet (see docs/coverage.md).", 400);
  if (!insights_) throw AwsError("UnsupportedOperationException", "This Vigil does not run the Insights detector.", 400);
  return insights_->metric_data(account, region, input);
}

Value TrailStore::list_public_keys(const std::string& account, const std::string& region, const Value& input) {
  double now = clock_.now_seconds();
  double end = input.f64("EndTime", now);
  double start = input.f64("StartTime", end);
  if (start > end) throw AwsError("InvalidTimeRangeException", "Start time must be earlier than end time.", 400);
  bool validating = false;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [k, t] : trails_)
      if (t.account == account && (t.home_region == region || bool_member(t.state, "IsMultiRegionTrail", false)) &&
          bool_member(t.state, "LogFileValidationEnabled", false))
        validating = true;
  }
  if (validating) keys_.current(account, region);  // a current key exists while a trail validates
  Value list = Value::list();
  for (const SigningKey& k : keys_.overlapping(account, region, start, end)) {
    Value v = Value::map();
    v.set("Value", Blob{k.public_der});
    v.set("ValidityStartTime", Timestamp{k.start});
    v.set("ValidityEndTime", Timestamp{k.end});
    v.set("Fingerprint", k.fingerprint);
    list.push(std::move(v));
  }
  Value out = Value::map();
  out.set("PublicKeyList", std::move(list));
  return out;
}

}  // namespace vigil::cloudtrail
