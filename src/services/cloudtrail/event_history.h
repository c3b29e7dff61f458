// CloudTrail's event history: every API call becomes a record in AWS's CloudTrail format,
// stored per account and region, newest first, with an index per lookup attribute.
//
//   Audit:      account \0 region \0 inverted_time(8) event_id  -> record JSON
//   AuditIndex: account \0 region \0 attribute \0 value \0 inverted_time(8) event_id -> ""
//
// Recording costs one WriteBatch of 1 + (number of attributes) small keys per call, written
// without waiting for fsync: it rides along with the next synced write, and a kill -9 of the
// process cannot lose it (it is in the WAL, in the OS's page cache). LookupEvents is a seek
// plus a bounded scan of one index range.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "server/dispatcher.h"
#include "store/store.h"

namespace vigil::cloudtrail {

class EventHistory {
 public:
  EventHistory(store::Store& store, const Clock& clock, EventBus* bus);

  // The audit sink the dispatcher calls after every authenticated call.
  void record(const server::ApiCall& call);

  // LookupEvents semantics (attributes, time range, MaxResults, NextToken), newest first.
  Value lookup(const std::string& account, const std::string& region, const Value& input) const;

  // Drops records older than 90 days (scheduler job).
  void expire();

 private:
  store::Store& store_;
  const Clock& clock_;
  EventBus* bus_;
};

// The CloudTrail record (AWS's format) for one call, as a Value. Exposed for tests.
Value make_record(const server::ApiCall& call, const std::string& event_id, double event_time);

}  // namespace vigil::cloudtrail
