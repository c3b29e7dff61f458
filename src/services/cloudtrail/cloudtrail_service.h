// CloudTrail over awsJson 1.1: the event history (LookupEvents), trails with log file
// delivery (trails.h), Insights selectors on trails (Insights events: insights.h) and Lake's
// event data stores and queries (lake.h). Imports, channels, dashboards
// and saved queries answer UnknownOperationException until they come (docs/coverage.md).
#pragma once

#include "server/service.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/lake.h"
#include "services/cloudtrail/trails.h"

namespace vigil::cloudtrail {

class CloudTrailService : public server::Service {
 public:
  CloudTrailService(EventHistory& history, TrailStore& trails, LakeStore& lake);
  std::string validation_error_code() const override { return "InvalidParameterException"; }
  void reset() override {
    history_.forget_templates();
    trails_.reset();
    lake_.reset();
  }

 private:
  EventHistory& history_;
  TrailStore& trails_;
  LakeStore& lake_;
};

}  // namespace vigil::cloudtrail
