// CloudTrail Lake: event data stores and the SQL queries over them, without HTTP.
//
// An event data store (EDS) lives in its account and home region and collects, from its
// creation on (as AWS: Lake does not backfill from the event history), the CloudTrail records
// the event bus gives it: its account's, of its home region or of every region when
// MultiRegionEnabled, chosen by its AdvancedEventSelectors (lake_selectors.h). State:
//
//   Meta: ct:eds: <id>                  -> EDS document (JSON; configuration, status, tags)
//   Meta: ct:q: <query id>              -> query document (statement, status, statistics)
//   Lake: 'e' <eds id> \0 time(8) event  -> a collected record (lake_engine.h)
//   Lake: 'r' <query id> \0 row(8)      -> one result row, as GetQueryResults returns it
//
// Collecting costs one extra key per (record, selecting EDS), written with the call's own
// buffered batch durability. Retention is enforced twice: a query never sees events older
// than RetentionPeriod days (the scan starts there), and the hourly expire() range-deletes
// them. DeleteEventDataStore leaves the store PENDING_DELETION for 7 days (RestoreEventDataStore
// brings it back), then expire() drops it and its events.
//
// Queries: StartQuery rewrites and compiles the statement on the request thread (bad SQL is
// InvalidQueryStatementException right away), then queues it; one worker thread runs queued
// queries one at a time (the scheduler's thread stays free for alarms and delivery), writing
// result rows to the store in batches as SQLite produces them, so neither the run nor
// GetQueryResults (one page per call, read by key range) holds a whole result in memory.
// CancelQuery and the timeout interrupt SQLite (progress handler). Results are kept 7 days.
// QueryParameters (up to 10 strings) are bound to the statement's `?` placeholders in order as
// SQL text values, never spliced into the SQL; a count that does not match is
// InvalidQueryStatementException (Trino's "Incorrect number of parameters").
//
// DeliveryS3Uri (lake_delivery.h): StartQuery checks the bucket and its policy
// (S3BucketDoesNotExistException, InsufficientS3BucketPolicyException); once the query is
// FINISHED, the worker streams its stored rows into gzip CSV files and a signed sign file in the
// bucket (DeliveryStatus PENDING, then SUCCESS or why not). A query that does not finish
// delivers nothing (DeliveryStatus CANCELLED or FAILED), as AWS delivers no partial results. A
// restart re-delivers a FINISHED query whose delivery was PENDING.
// A restart re-queues queries that were QUEUED or RUNNING (their partial results erased).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/cloudtrail/kms_lookup.h"

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "services/cloudtrail/lake_delivery.h"
#include "services/cloudtrail/lake_engine.h"
#include "store/store.h"

namespace vigil::cloudtrail {

class LakeStore {
 public:
  LakeStore(store::Store& store, const Clock& clock);
  ~LakeStore();

  void load();   // reads stores and queries from the store (startup); re-queues unfinished queries
  void reset();  // after the store was cleared
  // Starts the query worker thread (the server); without it, run_next() runs queries (tests).
  void start_worker();
  void stop_worker();
  void set_query_timeout(std::chrono::milliseconds timeout) { timeout_millis_ = timeout.count(); }
  // A query's stored results are capped (a recursive WITH can produce rows forever): past the
  // cap the query FAILS rather than fill the disk until its timeout. Default 256 MB.
  void set_max_result_bytes(size_t bytes) { max_result_bytes_ = bytes; }
  // Where DeliveryS3Uri results go (the server's S3 objects, CloudTrail's signing keys); without
  // it, DeliveryS3Uri is UnsupportedOperationException. policy_required: as TrailStore's.
  void set_delivery(s3::ObjectStore* objects, SigningKeys* keys, bool policy_required) {
    objects_ = objects;
    keys_ = keys;
    delivery_policy_required_ = policy_required;
  }
  void set_delivery_file_bytes(uint64_t bytes) { delivery_file_bytes_ = bytes; }
  // KmsKeyId's keys. A store whose key is disabled or pending deletion takes no events and
  // answers no query (KmsException), as in AWS; unset: every KmsKeyId is KmsKeyNotFoundException.
  void set_kms(KmsLookup kms) { kms_ = std::move(kms); }

  // Event data store operations, in the caller's account and region, with AWS's errors.
  Value create(const std::string& account, const std::string& region, const Value& input);
  Value get(const std::string& account, const std::string& region, const Value& input) const;
  Value list(const std::string& account, const std::string& region, const Value& input) const;
  Value update(const std::string& account, const std::string& region, const Value& input);
  void remove(const std::string& account, const std::string& region, const Value& input);
  Value restore(const std::string& account, const std::string& region, const Value& input);
  void set_ingestion(const std::string& account, const std::string& region, const Value& input, bool on);

  // Tags of an event data store ARN (AddTags/RemoveTags/ListTags route EDS ARNs here).
  static bool is_eds_arn(std::string_view arn);
  void add_tags(const std::string& account, const std::string& region, std::string_view arn, const Value* tags);
  void remove_tags(const std::string& account, const std::string& region, std::string_view arn, const Value* tags);
  Value tags(const std::string& account, const std::string& region, std::string_view arn) const;

  // Query operations.
  Value start_query(const std::string& account, const std::string& region, const Value& input);
  Value describe_query(const std::string& account, const std::string& region, const Value& input) const;
  Value get_query_results(const std::string& account, const std::string& region, const Value& input) const;
  Value cancel_query(const std::string& account, const std::string& region, const Value& input);
  Value list_queries(const std::string& account, const std::string& region, const Value& input) const;

  // Event bus subscriber: stores the record in every enabled EDS that selects it.
  void on_event(const BusEvent& event);
  // Whether some enabled EDS of the account collects data events.
  bool wants_data_events(const std::string& account) const;
  // Scheduler job: retention, stores past their 7 days of PENDING_DELETION, old query results.
  void expire();
  // Runs the oldest queued query on the calling thread; false when none is queued.
  bool run_next();

 private:
  struct Eds {
    std::string account, region, id;
    Value state;  // the stored document
  };
  struct Query {
    std::string account, region, id, statement;
    std::vector<std::string> parameters;  // QueryParameters, bound to the statement's `?`s
    std::vector<std::string> eds_ids;
    std::string status, error;
    std::string delivery_uri, delivery_status;  // DeliveryS3Uri; PENDING until delivered
    int64_t created_millis = 0, execution_millis = 0;
    LakeRunStats stats;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  };

  const Eds& find(const std::string& account, const std::string& region, std::string_view id_or_arn) const;
  Eds& find(const std::string& account, const std::string& region, std::string_view id_or_arn);
  const Query& find_query(const std::string& account, const std::string& region, const Value& input) const;
  Value view(const Eds& eds, bool for_list = false) const;
  void save(const Eds& eds);
  void save(const Query& query, store::Durability durability = store::Durability::Sync);
  void recount_data_stores();
  void erase_results(const std::string& query_id);
  void deliver(const std::string& query_id);  // a FINISHED query's results to its DeliveryS3Uri

  store::Store& store_;
  const Clock& clock_;
  LakeEngine engine_;
  mutable std::mutex mutex_;
  std::map<std::string, Eds> stores_;      // by id
  std::map<std::string, Query> queries_;   // by id
  std::deque<std::string> queue_;          // queued query ids, oldest first
  std::atomic<int> data_stores_{0};        // enabled stores with data selectors (hot-path check)
  std::atomic<int> enabled_stores_{0};     // enabled stores (on_event's check, every API call)
  std::atomic<int64_t> timeout_millis_{3600 * 1000};
  std::atomic<size_t> max_result_bytes_{256u << 20};
  s3::ObjectStore* objects_ = nullptr;
  SigningKeys* keys_ = nullptr;
  bool delivery_policy_required_ = true;
  std::atomic<uint64_t> delivery_file_bytes_{256ull << 20};
  std::condition_variable wake_;
  std::thread worker_;
  bool stopping_ = false;
  KmsLookup kms_;
};

}  // namespace vigil::cloudtrail
