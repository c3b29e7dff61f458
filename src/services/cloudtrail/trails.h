// CloudTrail trails and their log file delivery, without HTTP.
//
// A trail lives in its account and home region; a multi-region trail also shows (as a
// "shadow trail") in every other region. State, in the store's Meta keyspace:
//
//   ct:t: account \0 home_region \0 name           -> trail JSON (configuration, selectors,
//                                                    tags, logging and delivery status)
//   ct:p: account \0 home_region \0 name \0 seq(8) -> one pending CloudTrail record (JSON)
//
// A logging trail takes the records the event bus gives it (its account; its home region, or
// every region when multi-region; management and data events per its event selectors) and
// appends them to its pending range, in the WAL before the call's response is sent. The
// delivery job (every --trail-delivery-interval) turns each trail's pending records into one
// gzip `{"Records":[...]}` file per region in the trail's bucket, under AWS's key layout, then
// erases what it delivered; a failed delivery (bucket gone) keeps the records for the next
// run and shows in GetTrailStatus.LatestDeliveryError. Delivery is at-least-once: a crash
// between the object write and the erase delivers those records again, as AWS may.
//
// Log file integrity validation (docs: ../shared/specs/cloudtrail-integrity.md): with
// LogFileValidationEnabled, each delivered file's SHA-256 (of the uncompressed JSON, as the
// AWS CLI checks it) is remembered in the trail document ("DigestLogs"); the digest job
// (every --trail-digest-interval) writes per region a gzip digest JSON listing them, signed
// (SHA256withRSA, hex in the object's `signature` metadata) with the account+region key of
// SigningKeys, chained through "DigestChains" (region -> previous digest). StopLogging or
// disabling validation drops the chain, so the next digest starts a new one: a gap the
// validator reports, as on AWS.
//
// Bucket access is AWS's: CloudTrail (the service principal cloudtrail.amazonaws.com, with
// aws:SourceArn = the trail ARN, aws:SourceAccount = its account) needs the bucket policy to
// allow s3:GetBucketAcl on the bucket and s3:PutObject on
// [prefix/]AWSLogs/<account>/* (x-amz-acl bucket-owner-full-control). CreateTrail and
// UpdateTrail check it (InsufficientS3BucketPolicyException); every delivery checks it again
// (LatestDeliveryError AccessDenied, nothing written). With set_bucket_policy_required(false)
// (the model's default, for embedders and unit tests) a bucket of the trail's own account
// without any policy is also accepted; the server requires the policy, as AWS does.
//
// Notifications and CloudWatch Logs go through TrailHooks (wired by the server, so this folder
// depends on neither SNS nor CloudWatch Logs): after each log file is written, one SNS message
// {"s3Bucket":...,"s3ObjectKey":[key]} to the trail's topic, and the file's records as log
// events (message = the record's JSON, timestamp = its eventTime) in the trail's log group,
// stream "<account>_CloudTrail_<region of the events>". A failed notification or log delivery
// shows in GetTrailStatus (LatestNotificationError / LatestCloudWatchLogsDeliveryError) and is
// not retried: the S3 file is the record of truth.
//
// Insights (insights.h): PutInsightSelectors stores the trail's selectors and tells the
// InsightDetector which types the account analyses. on_event feeds the detector the
// management calls of accounts whose logging trails select Insights (for the region: home, or
// every region when multi-region); the Insights events it produces come back through the bus
// ("AWS Insight via CloudTrail") and wait in
//   ct:q: account \0 home_region \0 name \0 seq(8) -> one pending Insights event (JSON)
// for the same delivery job, which writes them under [prefix/]AWSLogs/<account>/CloudTrail-
// Insight/<region>/YYYY/MM/DD/<account>_CloudTrail-Insight_<region>_<YYYYMMDDTHHmmZ>_<16>.json.gz
// and, with CloudWatchLogsLogGroupArn, as log events in the trail's log group (the region's
// stream, as AWS documents); no SNS notification and no digest for those files (AWS documents
// neither; validate-logs reads CloudTrail-Digest/ only). The same batch writes
// an index entry per trail (event_history.h, insight_trail_key) from which ListInsightsData
// lists the trail's Insights events.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "services/cloudtrail/kms_lookup.h"
#include "services/cloudtrail/insights.h"
#include "services/cloudtrail/signing_keys.h"
#include "services/s3/object_store.h"
#include "store/store.h"

namespace vigil::cloudtrail {

// Whether CloudTrail may write `object_arn` into `bucket` on behalf of `source_arn` (a trail or
// an event data store of `account`): "" if so, else the S3 error (NoSuchBucket, AccessDenied).
// The bucket policy must allow cloudtrail.amazonaws.com s3:GetBucketAcl on the bucket and
// s3:PutObject on the object (aws:SourceArn, aws:SourceAccount and s3:x-amz-acl
// bucket-owner-full-control in the request context); without a policy, only the bucket owner's
// own account is accepted, and only when `policy_required` is false.
// `now` (epoch seconds) is the request's time, for a policy's Date conditions.
std::string cloudtrail_bucket_access(const s3::ObjectStore& objects, bool policy_required, const std::string& account, const std::string& source_arn,
                                     const std::string& bucket, const std::string& object_arn, double now);

// AWS's trail name rules; the InvalidTrailNameException message, or empty when valid.
std::string trail_name_problem(std::string_view name);

// What trails need from SNS and CloudWatch Logs. An unset hook behaves as if the topic or log
// group does not exist.
// The bus event type of Insights events (EventBridge's detail-type for them).
inline constexpr std::string_view kInsightDetailType = "AWS Insight via CloudTrail";

struct TrailHooks {
  using LogEvents = std::vector<std::pair<int64_t, std::string>>;  // (timestamp ms, message)
  std::function<bool(const std::string& account, const std::string& region, const std::string& topic_arn)> topic_exists;
  // Publishes a message; false when the topic is gone.
  std::function<bool(const std::string& account, const std::string& region, const std::string& topic_arn, const std::string& message)> publish;
  std::function<bool(const std::string& account, const std::string& region, const std::string& group)> log_group_exists;
  // Appends the events (sorted by timestamp) to the stream, creating it if missing; an error
  // code ("ResourceNotFoundException", ...) or empty on success.
  std::function<std::string(const std::string& account, const std::string& region, const std::string& group, const std::string& stream,
                            const LogEvents& events)>
      put_log_events;
  KmsLookup kms;  // KmsKeyId
};

// AddTags' merge for trails and event data stores: keys 1-128 characters, values at most
// 256, a key already there takes the new value, at most 50 per resource
// (InvalidTagParameterException, TagsLimitExceededException "...tags per <per>...").
void merge_tags(Value& tags, const Value* add, std::string_view per);
// RemoveTags: `tags` less those named in `remove` (a Key alone removes the key; Key and Value
// only that pair).
Value without_tags(const Value* tags, const Value* remove);

class TrailStore {
 public:
  TrailStore(store::Store& store, const Clock& clock, s3::ObjectStore& objects);

  void load();   // reads every trail from the store (startup)
  void reset();  // after the store was cleared
  void set_hooks(TrailHooks hooks);
  // Whether a bucket without a policy is refused even when the trail's account owns it (AWS).
  void set_bucket_policy_required(bool required) { policy_required_ = required; }
  // The Insights detector the trails feed (none: Insights selectors are stored, nothing counted).
  // Set before load().
  void set_insights(InsightDetector* insights) { insights_ = insights; }

  // The operations, in the caller's account and region, with AWS's validation and errors.
  Value create(const std::string& account, const std::string& region, const Value& input);
  Value update(const std::string& account, const std::string& region, const Value& input);
  void remove(const std::string& account, const std::string& region, std::string_view name);
  Value get(const std::string& account, const std::string& region, std::string_view name) const;
  Value describe(const std::string& account, const std::string& region, const Value& input) const;
  Value list(const std::string& account, const std::string& region) const;
  Value status(const std::string& account, const std::string& region, std::string_view name) const;
  void set_logging(const std::string& account, const std::string& region, std::string_view name, bool on);
  Value put_event_selectors(const std::string& account, const std::string& region, const Value& input);
  Value get_event_selectors(const std::string& account, const std::string& region, std::string_view name) const;
  Value put_insight_selectors(const std::string& account, const std::string& region, const Value& input);
  Value get_insight_selectors(const std::string& account, const std::string& region, const Value& input) const;
  void add_tags(const std::string& account, const std::string& region, const Value& input);
  void remove_tags(const std::string& account, const std::string& region, const Value& input);
  Value list_tags(const std::string& account, const std::string& region, const Value& input) const;

  // Event bus subscriber: buffers the record for every logging trail that selects it, counts
  // it for Insights, and buffers Insights events for the trails that select their type.
  void on_event(const BusEvent& event);
  // Whether some logging trail of the account selects data events (so the event history
  // builds data event records only when someone reads them).
  bool wants_data_events(const std::string& account) const;
  // The delivery job: one file per trail and region with pending records. Returns files written.
  int deliver();
  // The digest job (every --trail-digest-interval): for each trail with log file validation,
  // one signed digest file per region, chained to the previous one. Returns digests written.
  int digest();
  // ListPublicKeys: every key of the account and region whose validity overlaps the range.
  Value list_public_keys(const std::string& account, const std::string& region, const Value& input);
  // ListInsightsMetricData from the detector's stored counts (InsightDetector::metric_data).
  // TrailName selects Insights on data events, which Vigil does not analyse yet.
  Value list_insights_metric_data(const std::string& account, const std::string& region, const Value& input) const;
  // ListInsightsData's InsightSource: how the trail it names (visible in the region: its home
  // region, or any region for a multi-region trail) is keyed in the event history's Insights
  // index (its ARN and the id it got at creation, so a trail created again under the same name
  // starts with no Insights events). InvalidParameterException for
  // anything else (the operation documents no TrailNotFoundException); an event data store ARN
  // is UnsupportedOperationException. The events come from EventHistory::list_insights_data.
  std::string insight_source(const std::string& account, const std::string& region, std::string_view arn) const;
  SigningKeys& signing_keys() { return keys_; }

 private:
  struct Trail {
    std::string account, home_region, name;
    Value state;  // the stored JSON document
    uint8_t insight_types = 0;  // InsightType mask of its InsightSelectors (from state)
  };
  enum class Files { Log, Insight };
  using Key = std::string;  // account \0 home_region \0 name
  static Key key_of(const std::string& account, const std::string& region, std::string_view name);

  // Resolves a name or ARN as AWS does (shadow trails of multi-region trails included).
  const Trail& find(const std::string& account, const std::string& region, std::string_view name_or_arn) const;
  Trail& find_in_home(const std::string& account, const std::string& region, std::string_view name_or_arn);
  void save(const Trail& trail);
  void check_bucket(const std::string& account, const std::string& trail_arn, const std::string& bucket, const std::string& prefix) const;
  // Whether CloudTrail may write the object into the bucket: empty, or the S3 error code
  // ("NoSuchBucket", "AccessDenied").
  std::string bucket_access(const std::string& account, const std::string& trail_arn, const std::string& bucket, const std::string& object_arn) const;
  // SnsTopicName (name or ARN) -> topic ARN, validated; CloudWatch Logs pair validated.
  std::string resolve_topic(const std::string& account, const std::string& region, const std::string& name_or_arn) const;
  void check_log_group(const std::string& account, const std::string& region, const std::string& group_arn, const std::string& role_arn) const;
  Value trail_view(const Trail& trail) const;
  bool selects(const Trail& trail, const BusEvent& event, const Value& record) const;
  // `more`: the pass was full and delivered without error (pending records may remain).
  int deliver_trail(const Key& key, Files files, bool& more);
  // Tells the detector which Insights types the account's trails select (mutex_ held).
  void sync_insights(const std::string& account);
  void on_insight(const BusEvent& event);

  store::Store& store_;
  const Clock& clock_;
  s3::ObjectStore& objects_;
  mutable std::mutex mutex_;
  std::map<Key, Trail> trails_;
  // trails_.size(), updated under mutex_ with it: on_event (every API call, on 128 workers)
  // reads it without taking mutex_ when there is no trail.
  std::atomic<size_t> trail_count_{0};
  std::atomic<uint64_t> sequence_;
  std::mutex delivery_mutex_;  // one delivery or digest run at a time
  SigningKeys keys_;
  TrailHooks hooks_;  // set once at startup, before any request
  std::atomic<bool> policy_required_{false};
  InsightDetector* insights_ = nullptr;
};

}  // namespace vigil::cloudtrail
