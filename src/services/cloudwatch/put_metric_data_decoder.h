// PutMetricData's input as the handler's own types, from either wire path:
//  - put_metric_data_input(Value): the generic path (any protocol: query, awsJson, CBOR), after
//    JsonCodec/QueryCodec/CborCodec decode and protocol::validate_input;
//  - decode_put_metric_data(body): the awsJson fast path, a hand-written decoder straight from
//    the (already inflated) body, without the Value tree (a node, a key and a string per
//    dimension) and the model walk of validate_input, which dominated the profile of a
//    1 000-datum call.
// The decoder accepts exactly the bodies the generic path accepts, producing the same input,
// and declines everything else (malformed JSON, wrong types, nulls, duplicate members, broken
// model constraints, unknown members, EntityMetricData): a declined body takes the generic
// path, which answers the exact error. Checked against the generic path by
// tests/unit/put_metric_data_fast_path_test.cpp and fuzz/put_metric_data_fuzz.cpp.
// Semantic checks (AWS/ namespaces, NaN, sizes, timestamps, units) are NOT done here: both
// paths feed CloudWatchService::store_metric_data, which does them once.
//
// Cost: one simdjson DOM parse (the same parser and limits as the generic path) and one pass
// over the tape; per datum one string copy of the metric name and each dimension.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/value.h"

namespace vigil::cloudwatch {

struct StatisticSetInput {
  double sample_count = 0, sum = 0, minimum = 0, maximum = 0;
  bool operator==(const StatisticSetInput&) const = default;
};

struct MetricDatumInput {
  std::string metric_name;
  std::vector<std::pair<std::string, std::string>> dimensions;  // (Name, Value) in the order sent
  std::optional<double> timestamp_s;                            // epoch seconds, as decoded
  std::optional<double> value;
  std::optional<StatisticSetInput> statistic_values;
  std::optional<std::vector<double>> values;  // present-but-empty differs from absent
  std::optional<std::vector<double>> counts;
  std::optional<std::string> unit;  // as sent (the model's enum is checked semantically)
  std::optional<int64_t> storage_resolution;
  bool operator==(const MetricDatumInput&) const = default;
};

struct PutMetricDataInput {
  std::string namespace_;
  std::optional<std::vector<MetricDatumInput>> metric_data;  // absent differs from empty
  bool has_entity_metric_data = false;                       // a non-empty EntityMetricData
  bool operator==(const PutMetricDataInput&) const = default;
};

// The model's constraints the hand-written decoders apply (schema/cloudwatch.json; the JSON
// decoder's unit test checks they still match the embedded model).
inline constexpr size_t kMaxNamespaceChars = 255;
inline constexpr size_t kMaxMetricNameChars = 255;
inline constexpr size_t kMaxDimensionNameChars = 255;
inline constexpr size_t kMaxDimensionValueChars = 1024;
inline constexpr size_t kMaxDimensions = 30;
inline constexpr std::string_view kStandardUnits[] = {
    "Seconds",          "Microseconds",     "Milliseconds",     "Bytes",           "Kilobytes",       "Megabytes",      "Gigabytes",
    "Terabytes",        "Bits",             "Kilobits",         "Megabits",        "Gigabits",        "Terabits",       "Percent",
    "Count",            "Bytes/Second",     "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second",  "Megabits/Second",  "Gigabits/Second",  "Terabits/Second", "Count/Second",    "None"};
inline bool is_standard_unit(std::string_view s) {
  for (std::string_view unit : kStandardUnits)
    if (s == unit) return true;
  return false;
}

// The members of MetricDatum as bits of a "seen" mask, for the JSON and CBOR decoders (which
// decline duplicates); in a namespace of their own, as the query decoder has its own mask.
namespace datum_members {
enum DatumMember : unsigned {
  kMetricName = 1 << 0,
  kDimensions = 1 << 1,
  kTimestamp = 1 << 2,
  kValue = 1 << 3,
  kStatisticValues = 1 << 4,
  kValues = 1 << 5,
  kCounts = 1 << 6,
  kUnit = 1 << 7,
  kStorageResolution = 1 << 8,
};
// The bit of a member's name; 0 for a name MetricDatum does not have.
inline unsigned datum_member(std::string_view key) {
  if (key == "MetricName") return kMetricName;
  if (key == "Value") return kValue;
  if (key == "Dimensions") return kDimensions;
  if (key == "Timestamp") return kTimestamp;
  if (key == "Unit") return kUnit;
  if (key == "StorageResolution") return kStorageResolution;
  if (key == "Values") return kValues;
  if (key == "Counts") return kCounts;
  if (key == "StatisticValues") return kStatisticValues;
  return 0;
}
}  // namespace datum_members

// The generic path's validated Value (members named as in the model) as the handler's types.
PutMetricDataInput put_metric_data_input(const Value& in);

// True when `body` is an awsJson PutMetricData request the generic path accepts; `out` then
// holds what put_metric_data_input would make of it. False (decline): `out` is unspecified
// and the caller must take the generic path.
bool decode_put_metric_data(std::string_view body, PutMetricDataInput& out);

}  // namespace vigil::cloudwatch
