// CloudWatch ("monitoring") in all three of its protocols (awsJson 1.0 with query-mode errors,
// query with XML, rpc-v2-cbor): thin handlers that check AWS's semantic rules and call the
// MetricStore model. Operations not handled here answer AWS's unsupported-operation error.
#pragma once

#include <optional>
#include <string_view>

#include "core/clock.h"
#include "server/service.h"
#include "services/cloudwatch/alarms.h"
#include "services/cloudwatch/anomaly_detectors.h"
#include "services/cloudwatch/dashboards.h"
#include "services/cloudwatch/metric_query.h"
#include "services/cloudwatch/metric_store.h"

namespace vigil::cloudwatch {

struct PutMetricDataInput;

class CloudWatchService : public server::Service {
 public:
  CloudWatchService(MetricStore& store, const MetricQueryEngine& queries, AlarmStore& alarms, DashboardStore& dashboards,
                    AnomalyDetectors& anomalies, const Clock& clock);
  // Model constraint violations: CloudWatch's query-compatible "ValidationError".
  std::string validation_error_code() const override { return "ValidationError"; }
  server::AuditClass audit_class(std::string_view operation) const override;
  const Value& audit_parameters(std::string_view operation, const Value& input, Value& scratch) const override;
  // Inflates gzip request bodies (botocore compresses PutMetricData of 10 KiB or more) after
  // authentication, since the signature covers the compressed bytes.
  std::optional<HttpRequest> unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const override;
  void reset() override {
    store_.reset();
    alarms_.reset();
    anomalies_.reset();
  }

  // Largest inflated body accepted (AWS: 1 MB compressed per PutMetricData).
  static constexpr size_t kMaxInflatedBytes = 32 << 20;

 private:
  Value put_metric_data(server::CallContext& ctx, const Value& in);
  // A raw handler around one protocol's hand-written decoder.
  std::optional<Value> put_metric_data_raw(server::CallContext& ctx, std::string_view body, Value& audit_input,
                                           bool (*decode)(std::string_view, PutMetricDataInput&));
  Value store_metric_data(server::CallContext& ctx, const PutMetricDataInput& in);
  Value list_metrics(server::CallContext& ctx, const Value& in);
  Value get_metric_statistics(server::CallContext& ctx, const Value& in);
  Value get_metric_data(server::CallContext& ctx, const Value& in);
  // Alarms and dashboards (cloudwatch_alarm_handlers.cpp).
  void register_alarm_handlers();
  void register_dashboard_handlers();
  void register_anomaly_handlers();
  Value put_metric_alarm(server::CallContext& ctx, const Value& in);
  Value put_composite_alarm(server::CallContext& ctx, const Value& in);
  Value describe_alarms(server::CallContext& ctx, const Value& in);
  Value describe_alarm_history(server::CallContext& ctx, const Value& in);

  MetricStore& store_;
  const MetricQueryEngine& queries_;
  AlarmStore& alarms_;
  DashboardStore& dashboards_;
  AnomalyDetectors& anomalies_;
  const Clock& clock_;
};

}  // namespace vigil::cloudwatch
