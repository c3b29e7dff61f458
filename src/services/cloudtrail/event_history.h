// CloudTrail's event history: every API call becomes a record in AWS's CloudTrail format,
// stored per account and region, newest first, with an index per lookup attribute.
//
//   Audit:      account \0 region \0 inverted_time(8) event_id  -> the record's own values and
//               its template's id (or, from older versions, its whole JSON)
//               account \0 region \0 inverted_end_of_day(8) 'T' template_id ... -> a template: the
//               JSON around those values, shared by the day's records of one caller, agent and
//               service (stored_record in the .cpp)
//   AuditIndex: account \0 region \0 attribute \0 value \0 window -> packed postings (store.h)
//
// Recording costs one WriteBatch of one key of ~150 bytes and (number of attributes) postings per call, queued for
// the store's background writer (Durability::Deferred: many calls' records become one RocksDB
// write, with no write-group hand-off or wake-up per call). A mutating call waits until its
// record is in the WAL (the OS's page cache: a kill -9 cannot lose it), as the change it
// describes; a read-only call does not wait, so a kill -9 can lose the records of the reads of
// the last moment. Nothing waits for fsync: records ride along with the next synced write.
// LookupEvents first waits for queued records (read-your-writes), then seeks and scans one
// bounded index range.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "server/dispatcher.h"
#include "store/store.h"

namespace vigil::cloudtrail {

// Where a record's JSON has values that vary from call to call: (offset, length), in order.
using RecordHoles = std::vector<std::pair<uint32_t, uint32_t>>;

class EventHistory {
 public:
  EventHistory(store::Store& store, const Clock& clock, EventBus* bus);

  // The audit sink the dispatcher calls after every authenticated call.
  void record(const server::ApiCall& call);

  // Keeps an Insights event (insights.h) for LookupEvents with EventCategory=insight, in its
  // own scope (region "<region>/insight": the same keys, never mixed with API calls), indexed
  // by EventId, EventName and EventSource (insightDetails' API).
  void record_insight(const std::string& account, const std::string& region, const Value& record);

  // LookupEvents semantics (attributes, time range, MaxResults, NextToken), newest first.
  Value lookup(const std::string& account, const std::string& region, const Value& input) const;

  // ListInsightsData for the trail `trail` (as TrailStore::insight_source names it): the Insights events of
  // the region that the trail took for delivery (insight_trail_key), newest first, with AWS's
  // Dimensions (one of EventId, EventName, EventSource), StartTime/EndTime (both inclusive;
  // default the last 90 days), MaxResults (1-50, default 50) and a NextToken bound to the
  // other parameters; InvalidParameterException for anything else. Paged from the store: a page
  // reads its entries and at most MaxResults + 1 records, whatever the trail holds.
  Value list_insights_data(const std::string& account, const std::string& region, const std::string& trail, const Value& input) const;

  // Drops records older than 90 days (scheduler job).
  void expire();

  // Who wants data event records for an account (trails with data selectors). Data events
  // (every PutLogEvents) are costly to build: when this is set they are built only when it
  // says yes; unset, whenever the bus has a subscriber.
  void set_data_events_wanted(std::function<bool(const std::string& account)> wanted) { data_events_wanted_ = std::move(wanted); }

  // After the store was cleared (POST /_vigil/reset): record templates are written again.
  void forget_templates() { epoch_.fetch_add(1, std::memory_order_release); }

 private:
  using TemplateReads = std::map<std::string, std::optional<std::string>>;  // template key -> value, per read
  // The value to store for a management record: its holes and a template id (the template
  // put into `batch` if this thread has not written it today), or else its whole JSON.
  std::string stored_record(const std::string& scope, int64_t millis, const std::string& json, const RecordHoles& holes, store::WriteBatch& batch);
  // A stored value (either layout) as the record's JSON followed by its resource lines;
  // nullopt if its template is missing or the value is damaged.
  std::optional<std::string> stored_json(const std::string& scope, std::string_view suffix, std::string_view stored, TemplateReads& templates) const;

  store::Store& store_;
  const Clock& clock_;
  EventBus* bus_;
  std::function<bool(const std::string&)> data_events_wanted_;
  const uint64_t instance_;         // tells this history's templates from another's (tests run several)
  std::atomic<uint64_t> epoch_{0};  // forget_templates()
};

// The AuditIndex key that ties an Insights event kept by record_insight (its region: the
// event's awsRegion) to a trail that took it for delivery; the value is empty. TrailStore
// writes it in the batch that queues the event for the trail's CloudTrail-Insight/ files, so
// ListInsightsData lists exactly what the trail delivers. Expires with the event (90 days).
// `trail` is how the trail is named there (TrailStore: its ARN and creation id).
std::string insight_trail_key(const std::string& account, const std::string& region, const std::string& trail, const Value& record);

// The CloudTrail record (AWS's format) for one call, as JSON written directly (no Value tree:
// this runs for every call). Parameters whose JSON is over 100 KB are omitted, as AWS does.
// With `holes`, also where the values that vary from call to call are (offset, length), in
// order; the rest (the caller's identity, address and agent, the service, region, account
// and the members' names) is the record's template, stored once (see the .cpp).
std::string record_json(const server::ApiCall& call, const std::string& event_id, double event_time, RecordHoles* holes = nullptr);
// The same as a Value (tests).
Value make_record(const server::ApiCall& call, const std::string& event_id, double event_time);

// The record an "AWS API Call via CloudTrail" bus event carries: its detail, or else its
// detail_json parsed into `parsed`.
const Value& call_record(const BusEvent& event, Value& parsed);

}  // namespace vigil::cloudtrail
