#include "services/cloudwatch/anomaly_detectors.h"

#include "protocol/json_codec.h"
#include "services/cloudwatch/metric_query.h"

namespace vigil::cloudwatch {

namespace {

constexpr std::string_view kDetectorPrefix = "cw:ad:";

Value dimensions_value(const Dimensions& dims) {
  Value list = Value::list();
  for (const auto& [name, value] : dims) list.push(Value::map().set("Name", name).set("Value", value));
  return list;
}

Dimensions dimensions_of(const Value* list) {
  Dimensions dims;
  if (list && list->is_list())
    for (const Value& d : list->as_list()) dims.emplace_back(std::string(d.str("Name")), std::string(d.str("Value")));
  std::sort(dims.begin(), dims.end());
  return dims;
}

void restore_timestamps(Value& configuration) {
  Value* ranges = configuration.get("ExcludedTimeRanges");
  if (!ranges || !ranges->is_list()) return;
  for (Value& r : ranges->as_list())
    for (const char* member : {"StartTime", "EndTime"})
      if (Value* t = r.get(member); t && !t->is_string() && !t->is_null()) *t = Value(Timestamp{t->as_double()});
}

}  // namespace

AnomalyDetectors::AnomalyDetectors(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

std::string AnomalyDetectors::key_of(const std::string& account, const std::string& region, const DetectorId& id) const {
  std::string k(kDetectorPrefix);
  k += series_key(account, region, id.series);
  k.push_back('\0');
  k += id.stat;
  return k;
}

void AnomalyDetectors::load() {
  std::lock_guard lock(mutex_);
  detectors_.clear();
  models_.clear();
  std::string end(kDetectorPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  auto it = store_.iterate(store::Keyspace::Meta, kDetectorPrefix, end);
  for (it->seek(kDetectorPrefix); it->valid(); it->next()) {
    try {
      Value record = protocol::json_to_value(it->value(), nullptr);
      if (Value* c = record.get("Configuration")) restore_timestamps(*c);
      detectors_.emplace(std::string(it->key()), std::move(record));
    } catch (...) {
    }
  }
}

void AnomalyDetectors::save_locked(const std::string& key, const Value& record) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, key, protocol::value_to_json(record));
  store_.write(batch);
}

void AnomalyDetectors::put(const std::string& account, const std::string& region, const DetectorId& id, const Value& configuration,
                           const Value& characteristics) {
  std::lock_guard lock(mutex_);
  const std::string key = key_of(account, region, id);
  Value record = Value::map();
  record.set("Namespace", id.series.namespace_);
  record.set("MetricName", id.series.metric_name);
  record.set("Dimensions", dimensions_value(id.series.dimensions));
  record.set("Stat", id.stat);
  record.set("Configuration", configuration.is_map() ? configuration : Value::map().set("ExcludedTimeRanges", Value::list()));
  if (characteristics.is_map()) record.set("MetricCharacteristics", characteristics);
  record.set("SingleMetricAnomalyDetector", Value::map()
                                                .set("AccountId", account)
                                                .set("Namespace", id.series.namespace_)
                                                .set("MetricName", id.series.metric_name)
                                                .set("Dimensions", dimensions_value(id.series.dimensions))
                                                .set("Stat", id.stat));
  record.set("StateValue", "PENDING_TRAINING");
  save_locked(key, record);
  detectors_[key] = std::move(record);
  // A new configuration (excluded ranges) invalidates the trained models.
  std::erase_if(models_, [&](const auto& kv) { return kv.first.first == key; });
}

bool AnomalyDetectors::erase(const std::string& account, const std::string& region, const DetectorId& id) {
  std::lock_guard lock(mutex_);
  const std::string key = key_of(account, region, id);
  if (!detectors_.erase(key)) return false;
  std::erase_if(models_, [&](const auto& kv) { return kv.first.first == key; });
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, key);
  store_.write(batch);
  return true;
}

bool AnomalyDetectors::exists(const std::string& account, const std::string& region, const DetectorId& id) const {
  std::lock_guard lock(mutex_);
  return detectors_.count(key_of(account, region, id)) > 0;
}

std::vector<Value> AnomalyDetectors::describe(const std::string& account, const std::string& region,
                                              const std::optional<std::string>& namespace_, const std::optional<std::string>& metric_name,
                                              const std::optional<Dimensions>& dimensions) const {
  std::lock_guard lock(mutex_);
  std::string prefix(kDetectorPrefix);
  prefix += series_key(account, region, SeriesId{});
  prefix.resize(prefix.size() - 2);  // series_key of an empty id ends with the two \0 separators
  std::vector<Value> out;
  for (auto it = detectors_.lower_bound(prefix); it != detectors_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const Value& r = it->second;
    if (namespace_ && r.str("Namespace") != *namespace_) continue;
    if (metric_name && r.str("MetricName") != *metric_name) continue;
    if (dimensions && dimensions_of(r.get("Dimensions")) != *dimensions) continue;
    out.push_back(r);
  }
  return out;
}

std::optional<std::pair<math::Series, math::Series>> AnomalyDetectors::band(const std::string& account, const std::string& region,
                                                                            const DetectorId& id, int64_t period_s,
                                                                            const std::vector<int64_t>& timestamps, double k,
                                                                            const std::string& label) {
  if (!engine_) return std::nullopt;
  const std::string key = key_of(account, region, id);
  if (!exists(account, region, id)) put(account, region, id, Value::map().set("ExcludedTimeRanges", Value::list()), Value());
  std::lock_guard lock(mutex_);
  auto detector = detectors_.find(key);
  if (detector == detectors_.end()) return std::nullopt;
  const int64_t now_ms = clock_.now_millis();
  Trained& trained = models_[{key, period_s}];
  if (trained.trained_at_ms == 0 || now_ms - trained.trained_at_ms > kRetrainAfterMs) {
    // Cost: one scan of the series over the training window at `period_s`.
    const int64_t now_s = now_ms / 1000;
    math::Series history = engine_->fetch(account, region, id.series, id.stat, period_s, std::nullopt, now_s - kTrainingWindowS, now_s);
    AnomalyTrainingOptions options;
    if (const Value* c = detector->second.get("Configuration"))
      if (const Value* ranges = c->get("ExcludedTimeRanges"); ranges && ranges->is_list())
        for (const Value& r : ranges->as_list())
          if (r.get("StartTime") && r.get("EndTime"))
            options.excluded_ranges.emplace_back(static_cast<int64_t>(r.get("StartTime")->as_double()),
                                                 static_cast<int64_t>(r.get("EndTime")->as_double()));
    trained.model = AnomalyModel::train(history, period_s, options, now_s);
    trained.trained_at_ms = now_ms;
    detector->second.set("StateValue", trained.model ? "TRAINED" : "TRAINED_INSUFFICIENT_DATA");
  }
  if (!trained.model) return std::nullopt;
  return trained.model->band(timestamps, k, label);
}

}  // namespace vigil::cloudwatch
