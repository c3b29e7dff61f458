// CloudWatch Logs over awsJson 1.1: thin handlers that validate AWS's semantic rules and call
// the LogStore model.
#pragma once

#include "core/clock.h"
#include "server/service.h"
#include "services/logs/log_store.h"

namespace vigil::logs {

class LogsService : public server::Service {
 public:
  LogsService(LogStore& store, const Clock& clock);
  std::string validation_error_code() const override { return "InvalidParameterException"; }
  server::AuditClass audit_class(std::string_view operation) const override;
  Value audit_parameters(std::string_view operation, const Value& input) const override;
  void reset() override { store_.load(); }

 private:
  Value describe_log_groups(server::CallContext& ctx, const Value& in);
  Value list_log_groups(server::CallContext& ctx, const Value& in);
  Value describe_log_streams(server::CallContext& ctx, const Value& in);
  Value put_log_events(server::CallContext& ctx, const Value& in);
  Value get_log_events(server::CallContext& ctx, const Value& in);
  Value filter_log_events(server::CallContext& ctx, const Value& in);
  Value test_metric_filter(server::CallContext& ctx, const Value& in);

  LogStore& store_;
  const Clock& clock_;
};

}  // namespace vigil::logs
