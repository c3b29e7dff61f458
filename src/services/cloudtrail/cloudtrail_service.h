// CloudTrail over awsJson 1.1: the event history (LookupEvents) and trails with log file
// delivery (trails.h). Digests, Insights, Lake and channels answer UnknownOperationException
// until they come (docs/coverage.md).
#pragma once

#include "server/service.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/trails.h"

namespace vigil::cloudtrail {

class CloudTrailService : public server::Service {
 public:
  CloudTrailService(EventHistory& history, TrailStore& trails);
  std::string validation_error_code() const override { return "InvalidParameterException"; }
  void reset() override { trails_.reset(); }

 private:
  EventHistory& history_;
  TrailStore& trails_;
};

}  // namespace vigil::cloudtrail
