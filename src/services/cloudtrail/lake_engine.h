// Runs a rewritten Lake query (lake_sql.h) with SQLite over the events of event data stores.
//
// Each eds_<n> of the statement is an eponymous SQLite virtual table over one store's range of
// the store's Lake keyspace:
//
//   Lake: 'e' eds_id \0 order_i64(event time ms)(8) event_id  -> the CloudTrail record (JSON)
//
// so a scan is one RocksDB range iteration in time order. xBestIndex takes the eventTime
// constraints (=, <, <=, >, >=) and xFilter turns them into the iteration's bounds: a
// time-bounded query seeks to its window instead of scanning the store (SQLite still checks
// every constraint, so the pushed-down bounds only need to be a superset, and are widened
// by a second). `ORDER BY eventTime` ascending is satisfied by the scan order itself. Rows are
// parsed lazily (one JSON parse per row that a column is read from); nothing is held but the
// current row, and results go to the caller row by row.
//
// Safety: a read-only in-memory connection per query, an authorizer allowing only SELECT,
// column reads and function calls (no ATTACH, PRAGMA, writes, DDL), double-quoted strings off
// (a misspelt "column" is an error, not a string), one statement only. A progress handler
// checks cancellation and the deadline every 1,000 VM steps, so CancelQuery and the query
// timeout stop even a long sort or aggregation; temp storage is in memory, under a hard
// heap limit, so a runaway query fails instead of exhausting memory or disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "services/cloudtrail/lake_sql.h"
#include "store/store.h"

namespace vigil::cloudtrail {

// Key layout helpers of the Lake keyspace (events; lake.h adds query results).
std::string lake_event_prefix(std::string_view eds_id);
std::string lake_event_key(std::string_view eds_id, int64_t millis, std::string_view event_id);

struct LakeSource {
  std::string eds_id;
  int64_t min_millis = 0;  // retention: older events are not returned, even before they are purged
};

struct LakeRunStats {
  int64_t events_scanned = 0;
  int64_t bytes_scanned = 0;
  int64_t rows = 0;
};

enum class LakeOutcome { Finished, Failed, Cancelled, TimedOut };

using LakeRow = std::vector<std::pair<std::string, std::string>>;  // (column, value as text)

class LakeEngine {
 public:
  LakeEngine(const store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Caps the memory of every SQLite connection of the process together (SQLite's hard heap
  // limit; Lake is SQLite's only user in Vigil). LakeStore sets 512 MB.
  static void set_memory_limit(int64_t bytes);

  // Compiles the statement without running it; throws LakeSqlError with SQLite's complaint.
  void check(const LakeSql& sql, const std::vector<LakeSource>& sources) const;

  // Runs the statement, giving each result row to on_row. `cancel` is polled; the query
  // stops with TimedOut once the clock passes deadline_millis. error: the FAILED message.
  LakeOutcome run(const LakeSql& sql, const std::vector<LakeSource>& sources, const std::atomic<bool>& cancel, int64_t deadline_millis,
                  const std::function<void(const LakeRow&)>& on_row, LakeRunStats& stats, std::string& error) const;

 private:
  const store::Store& store_;
  const Clock& clock_;
};

}  // namespace vigil::cloudtrail
