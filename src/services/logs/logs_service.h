// CloudWatch Logs over awsJson 1.1: thin handlers that validate AWS's semantic rules and call
// the LogStore model.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "server/service.h"
#include "services/logs/log_store.h"

namespace vigil::logs {

class LogsService : public server::Service {
 public:
  // Groups holding at least parallel_scan_min_bytes are filtered by two threads, one per half
  // of the time range (tests lower it to exercise that path on small data).
  LogsService(LogStore& store, const Clock& clock, int64_t parallel_scan_min_bytes = 8 << 20);
  std::string validation_error_code() const override { return "InvalidParameterException"; }
  server::AuditClass audit_class(std::string_view operation) const override;
  const Value& audit_parameters(std::string_view operation, const Value& input, Value& scratch) const override;
  void reset() override { store_.load(); }

 private:
  Value describe_log_groups(server::CallContext& ctx, const Value& in);
  Value list_log_groups(server::CallContext& ctx, const Value& in);
  Value describe_log_streams(server::CallContext& ctx, const Value& in);
  Value put_log_events(server::CallContext& ctx, const Value& in);
  // PutLogEvents over awsJson without the generic decode (see put_log_events_decoder.h).
  std::optional<Value> put_log_events_raw(server::CallContext& ctx, std::string_view body, Value& audit_input);
  // The handler's own limits (event and batch size, order), then the store. Both paths.
  Value store_log_events(server::CallContext& ctx, const std::string& group, const std::string& stream, const std::vector<InputEvent>& events);
  Value get_log_events(server::CallContext& ctx, const Value& in);
  Value filter_log_events(server::CallContext& ctx, const Value& in);
  Value test_metric_filter(server::CallContext& ctx, const Value& in);

  LogStore& store_;
  const Clock& clock_;
  int64_t parallel_scan_min_bytes_;
};

}  // namespace vigil::logs
