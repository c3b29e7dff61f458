// Shared by the three PutMetricData fast-path tests (JSON, CBOR, query): a readable dump of a
// decoded input, for failure messages only.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "services/cloudwatch/put_metric_data_decoder.h"

namespace vigil::cloudwatch::test_support {

inline std::string number_text(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

inline std::string describe(const std::optional<std::vector<double>>& v) {
  if (!v) return "-";
  std::string out = "[";
  for (double d : *v) out += number_text(d) + ",";
  return out + "]";
}

inline std::string describe(const PutMetricDataInput& in) {
  std::string out = "ns=" + in.namespace_ + " entity=" + (in.has_entity_metric_data ? "1" : "0");
  if (!in.metric_data) return out + " data=-";
  for (const auto& d : *in.metric_data) {
    out += "\n  {" + d.metric_name + " dims=";
    for (const auto& dim : d.dimensions) out += dim.first + "=" + dim.second + ";";
    out += " t=" + (d.timestamp_s ? number_text(*d.timestamp_s) : "-");
    out += " v=" + (d.value ? number_text(*d.value) : "-");
    if (d.statistic_values)
      out += " stats=" + number_text(d.statistic_values->sample_count) + "/" + number_text(d.statistic_values->sum) + "/" +
             number_text(d.statistic_values->minimum) + "/" + number_text(d.statistic_values->maximum);
    out += " values=" + describe(d.values) + " counts=" + describe(d.counts);
    out += " unit=" + d.unit.value_or("-") + " res=" + (d.storage_resolution ? std::to_string(*d.storage_resolution) : "-") + "}";
  }
  return out;
}

}  // namespace vigil::cloudwatch::test_support
