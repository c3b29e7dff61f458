// Anomaly detectors: which metric + statistic has a model, its configuration (excluded time
// ranges, timezone), and the trained models behind ANOMALY_DETECTION_BAND and band alarms.
//
// Keys (Keyspace::Meta): "cw:ad:" account \0 region \0 series key \0 stat -> the detector as
// DescribeAnomalyDetectors shows it (JSON). Models live in memory only: they are re-trained
// from the stored history (14 days at the query's period, one series scan) when first used
// after a start and then at most once an hour per (detector, period); a trained model is a
// few KB, so memory is O(detectors in use).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/value.h"
#include "services/cloudwatch/anomaly_model.h"
#include "services/cloudwatch/metric_math.h"
#include "services/cloudwatch/metric_store.h"
#include "store/store.h"

namespace vigil::cloudwatch {

class MetricQueryEngine;

struct DetectorId {
  SeriesId series;
  std::string stat;
};

class AnomalyDetectors {
 public:
  AnomalyDetectors(store::Store& store, const Clock& clock);
  void set_engine(const MetricQueryEngine* engine) { engine_ = engine; }
  void load();
  void reset() { load(); }

  // Creates or replaces the detector's configuration (Configuration, MetricCharacteristics).
  void put(const std::string& account, const std::string& region, const DetectorId& id, const Value& configuration,
           const Value& characteristics);
  bool erase(const std::string& account, const std::string& region, const DetectorId& id);
  // Detectors of the account/region matching the optional namespace / name / dimensions.
  std::vector<Value> describe(const std::string& account, const std::string& region, const std::optional<std::string>& namespace_,
                              const std::optional<std::string>& metric_name, const std::optional<Dimensions>& dimensions) const;
  bool exists(const std::string& account, const std::string& region, const DetectorId& id) const;

  // The expected band at `timestamps` (k standard deviations wide), creating the detector as
  // AWS does when a band is first asked for. nullopt while the model has too little history.
  std::optional<std::pair<math::Series, math::Series>> band(const std::string& account, const std::string& region, const DetectorId& id,
                                                            int64_t period_s, const std::vector<int64_t>& timestamps, double k,
                                                            const std::string& label);

  static constexpr int64_t kTrainingWindowS = 14 * 86400;
  static constexpr int64_t kRetrainAfterMs = 3600 * 1000;

 private:
  struct Trained {
    std::optional<AnomalyModel> model;
    int64_t trained_at_ms = 0;
  };
  std::string key_of(const std::string& account, const std::string& region, const DetectorId& id) const;
  void save_locked(const std::string& key, const Value& record);

  store::Store& store_;
  const Clock& clock_;
  const MetricQueryEngine* engine_ = nullptr;
  mutable std::mutex mutex_;
  std::map<std::string, Value> detectors_;                   // by key
  std::map<std::pair<std::string, int64_t>, Trained> models_;  // by (key, period)
};

}  // namespace vigil::cloudwatch
