// CloudTrail over awsJson 1.1. This issue serves the event history (LookupEvents); trails,
// delivery and digests come with the CloudTrail issue and answer UnknownOperationException
// until then (docs/coverage.md).
#pragma once

#include "server/service.h"
#include "services/cloudtrail/event_history.h"

namespace vigil::cloudtrail {

class CloudTrailService : public server::Service {
 public:
  explicit CloudTrailService(EventHistory& history);
  std::string validation_error_code() const override { return "InvalidParameterException"; }

 private:
  EventHistory& history_;
};

}  // namespace vigil::cloudtrail
