// CloudWatch Logs semantics: log groups, streams and events, independent of HTTP.
//
// Metadata (groups, streams) is small and kept in memory, written through to the Meta
// keyspace. Events live only in the store, one key per event:
//   LogEvents: group_id(8) stream_id(8) timestamp(8, sign-flipped) sequence(8) -> ingestion_time(8) message
// so a stream's events are one contiguous, time-ordered key range: a time-range read is a
// seek plus a sequential scan, retention is a range delete, and nothing ever loads a whole
// stream or group into memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace vigil::logs {

struct LogStream {
  uint64_t id = 0;
  std::string name;
  int64_t creation_time = 0;
  std::optional<int64_t> first_event_timestamp, last_event_timestamp, last_ingestion_time;
  std::mutex write_mutex;  // serializes PutLogEvents per stream (ordering of its metadata)
};

struct LogGroup {
  uint64_t id = 0;
  std::string account, region, name;
  int64_t creation_time = 0;
  std::optional<int> retention_in_days;
  std::string kms_key_id;
  std::string log_group_class = "STANDARD";
  std::map<std::string, std::string> tags;
  std::atomic<int64_t> stored_bytes{0};
  std::map<std::string, std::unique_ptr<LogStream>> streams;  // by name

  std::string arn() const;  // arn:aws:logs:REGION:ACCOUNT:log-group:NAME
};

struct InputEvent {
  int64_t timestamp;
  std::string message;
};

// Which events of a PutLogEvents batch were not stored. The batch is chronological, so the
// too-old and expired events form a prefix and the too-new ones a suffix. End indexes are
// exclusive (AWS: "tooOldLogEventEndIndex ... This field is exclusive"): events
// [0, too_old_end) are older than 14 days, [too_old_end, expired_end) older than the group's
// retention, [too_new_start, n) more than 2 hours ahead. Each event is counted once.
struct RejectedInfo {
  std::optional<int> too_new_start_index, too_old_end_index, expired_end_index;
};

struct StoredEvent {
  uint64_t stream_id;
  int64_t timestamp;
  uint64_t sequence;
  int64_t ingestion_time;
  std::string message;
};

// An event as the store holds it, valid only during a scan callback: the message points into
// the store's block cache, so scanning copies nothing for events the caller skips.
struct EventView {
  uint64_t stream_id;
  int64_t timestamp;
  uint64_t sequence;
  int64_t ingestion_time;
  std::string_view message;
};

// A position in a stream's time order: events strictly after (forward) or before (backward).
struct StreamPosition {
  int64_t timestamp;
  uint64_t sequence;
};

class LogStore {
 public:
  LogStore(store::Store& store, const Clock& clock);

  // Loads metadata from the store (startup and after reset).
  void load();

  // Group and stream lifecycle. Throw AwsError with AWS's codes and messages.
  void create_group(const std::string& account, const std::string& region, const std::string& name, const std::map<std::string, std::string>& tags,
                    const std::string& kms_key_id, const std::string& log_group_class);
  void delete_group(const std::string& account, const std::string& region, const std::string& name);
  void create_stream(const std::string& account, const std::string& region, const std::string& group, const std::string& stream);
  void delete_stream(const std::string& account, const std::string& region, const std::string& group, const std::string& stream);
  void set_retention(const std::string& account, const std::string& region, const std::string& group, std::optional<int> days);
  void tag_group(const std::string& account, const std::string& region, const std::string& group, const std::map<std::string, std::string>& tags);
  void untag_group(const std::string& account, const std::string& region, const std::string& group, const std::vector<std::string>& keys);

  // Visits groups of an account+region in name order from `start` (skipping a group named
  // exactly `start` when skip_start). The visitor returns false to stop. Holds a shared lock.
  void for_each_group(const std::string& account, const std::string& region, const std::string& start, bool skip_start,
                      const std::function<bool(const LogGroup&)>& visit) const;
  // Calls fn with the group under a shared lock; throws ResourceNotFoundException if absent.
  void with_group(const std::string& account, const std::string& region, const std::string& name,
                  const std::function<void(const LogGroup&)>& fn) const;

  // Appends a batch (already validated for order and size). Events outside [now - 14 days
  // or the retention cutoff, now + 2 hours] are rejected, not stored; the accepted ones must
  // span at most 24 hours (else InvalidParameterException, nothing stored). Durable on
  // return. Cost: one WriteBatch of N keys + one (group-committed) fsync.
  RejectedInfo put_events(const std::string& account, const std::string& region, const std::string& group, const std::string& stream,
                          const std::vector<InputEvent>& events);

  // Reads up to `limit` events of a stream inside [start, end) in time order, strictly after
  // (forward) or before (backward) a position, stopping before the page would exceed
  // `max_bytes` (message bytes + 26 per event; a page holds at least one event). Backward
  // reads return ascending order.
  std::vector<StoredEvent> read_stream(uint64_t group_id, uint64_t stream_id, int64_t start, int64_t end, const std::optional<StreamPosition>& from,
                                       bool forward, size_t limit, size_t max_bytes) const;

  // Merges several streams of a group by (timestamp, sequence), calling visit for each event
  // in [start, end) strictly after `after`; visit returns false to stop. Sequences are global
  // and allocated in ingestion order, so events with equal timestamps come in the order they
  // were ingested (AWS: "sorted by event timestamp, the timestamp when the event was ingested
  // ..., and the ID of the PutLogEvents request"), and (timestamp, sequence) names an event
  // uniquely. Cost: O(E log S) for E events scanned across S streams, one iterator per
  // stream, constant memory per stream.
  struct MergePosition {
    int64_t timestamp;
    uint64_t sequence;
  };
  void scan_streams(uint64_t group_id, const std::vector<uint64_t>& stream_ids, int64_t start, int64_t end,
                    const std::optional<MergePosition>& after, const std::function<bool(const EventView&)>& visit) const;

  // Deletes events older than each group's retention (scheduler job). Range deletes only.
  void enforce_retention();

 private:
  using Key = std::pair<std::string, std::string>;  // account, region
  LogGroup* find_group(const std::string& account, const std::string& region, const std::string& name) const;
  LogGroup& require_group(const std::string& account, const std::string& region, const std::string& name) const;
  void persist_group(store::WriteBatch& batch, const LogGroup& group) const;
  void persist_stream(store::WriteBatch& batch, const LogGroup& group, const LogStream& stream) const;
  uint64_t allocate_id(store::WriteBatch& batch);
  void repair_event_times(const LogGroup& group, LogStream& stream) const;

  store::Store& store_;
  const Clock& clock_;
  mutable std::shared_mutex mutex_;  // guards the maps below (not event data)
  std::map<Key, std::map<std::string, std::unique_ptr<LogGroup>>> groups_;
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> next_sequence_{0};
};

// Key helpers shared with tests and benchmarks.
std::string event_key(uint64_t group_id, uint64_t stream_id, int64_t timestamp, uint64_t sequence);

}  // namespace vigil::logs
