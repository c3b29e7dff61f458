#include "services/cloudwatch/put_metric_data_decoder.h"

#include <simdjson.h>

#include <cstring>
#include <limits>

namespace vigil::cloudwatch {

// ---------------------------------------------------------------------------------------------
// The generic path's Value -> PutMetricDataInput.
// ---------------------------------------------------------------------------------------------

namespace {

// A member as the handler sees it: absent and null are the same (JsonCodec drops null members;
// other codecs may keep them).
const Value* member(const Value& v, std::string_view key) {
  const Value* m = v.get(key);
  return m && !m->is_null() ? m : nullptr;
}

std::vector<double> doubles_of(const Value& list) {
  std::vector<double> out;
  if (!list.is_list()) return out;
  out.reserve(list.as_list().size());
  for (const Value& item : list.as_list()) out.push_back(item.as_double());  // Int, Double: as sent
  return out;
}

MetricDatumInput datum_of(const Value& d) {
  MetricDatumInput out;
  out.metric_name = std::string(d.str("MetricName"));
  if (const Value* dims = member(d, "Dimensions"); dims && dims->is_list()) {
    out.dimensions.reserve(dims->as_list().size());
    for (const Value& dim : dims->as_list()) out.dimensions.emplace_back(std::string(dim.str("Name")), std::string(dim.str("Value")));
  }
  if (const Value* t = member(d, "Timestamp")) out.timestamp_s = t->as_timestamp().epoch_seconds;
  if (const Value* v = member(d, "Value")) out.value = v->as_double();
  if (const Value* s = member(d, "StatisticValues"))
    out.statistic_values = StatisticSetInput{s->f64("SampleCount", 0), s->f64("Sum", 0), s->f64("Minimum", 0), s->f64("Maximum", 0)};
  if (const Value* v = member(d, "Values")) out.values = doubles_of(*v);
  if (const Value* c = member(d, "Counts")) out.counts = doubles_of(*c);
  if (const Value* u = member(d, "Unit"); u && u->is_string()) out.unit = u->as_string();
  if (const Value* r = member(d, "StorageResolution")) out.storage_resolution = r->as_int();
  return out;
}

}  // namespace

PutMetricDataInput put_metric_data_input(const Value& in) {
  PutMetricDataInput out;
  out.namespace_ = std::string(in.str("Namespace"));
  if (const Value* data = member(in, "MetricData"); data && data->is_list()) {
    out.metric_data.emplace();
    out.metric_data->reserve(data->as_list().size());
    for (const Value& d : data->as_list()) out.metric_data->push_back(datum_of(d));
  }
  const Value* entity = member(in, "EntityMetricData");
  out.has_entity_metric_data = entity && entity->size() > 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The awsJson fast path.
//
// What it must mirror (src/protocol/json_codec.cpp, src/protocol/validate.cpp, schema/
// cloudwatch.json): JsonCodec ignores unknown members, keeps every duplicate (validation and
// handlers read the first), drops null members, keeps null list items (which validation
// skips), converts numbers for double shapes from int64/uint64/double and the strings "NaN",
// "Infinity", "-Infinity", numbers or date strings for timestamps, and int64 within int32 or
// integral doubles for integers. validate_input then checks required members, lengths in code
// points, list sizes, enums (Unit) and RE2 patterns (Namespace). Everything the decoder does
// not reproduce trivially is declined.
// ---------------------------------------------------------------------------------------------

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;


// Characters (code points) as validate_input counts them: bytes that are not UTF-8
// continuation bytes.
size_t chars_of(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool string_of(element e, size_t max_chars, std::string_view& out) {
  if (e.get_string().get(out) != simdjson::SUCCESS) return false;
  size_t chars = chars_of(out);
  return chars >= 1 && chars <= max_chars;
}

// Namespace: 1-255 characters and pattern [^:].* (RE2, dot-all, full match). On valid UTF-8
// that is "the first character is not ':'"; anything not valid UTF-8 (which simdjson should
// never hand out) is left to RE2 on the generic path.
bool valid_namespace(std::string_view s) {
  size_t chars = chars_of(s);
  return chars >= 1 && chars <= kMaxNamespaceChars && s[0] != ':' && simdjson::validate_utf8(s.data(), s.size());
}


// DatapointValue (double) and Timestamp numbers exactly as JsonCodec's number_of converts
// them. The strings JsonCodec also takes there ("NaN"/"Infinity" for doubles, dates for
// timestamps) are rare and declined.
bool number_of(element e, double& out) {
  switch (e.type()) {
    case element_type::INT64: out = static_cast<double>(int64_t(e.get_int64())); return true;
    case element_type::UINT64: out = static_cast<double>(uint64_t(e.get_uint64())); return true;
    case element_type::DOUBLE: out = double(e.get_double()); return true;
    default: return false;
  }
}

// StorageResolution (integer, min 1): a JSON integer within int32. Integral doubles (1.0,
// 6e1), which JsonCodec also takes, are declined.
bool storage_resolution_of(element e, int64_t& out) {
  if (e.type() != element_type::INT64) return false;
  out = e.get_int64();
  return out >= 1 && out <= std::numeric_limits<int32_t>::max();
}

// Values, Counts: lists of numbers (no length constraints in the model). Reuses the vector.
bool doubles_of(element e, std::optional<std::vector<double>>& out) {
  simdjson::dom::array list;
  if (e.get_array().get(list) != simdjson::SUCCESS) return false;
  std::vector<double>& v = out ? *out : out.emplace();
  v.clear();
  for (element item : list) {
    double d;
    if (!number_of(item, d)) return false;  // null items included
    v.push_back(d);
  }
  return true;
}

// StatisticSet: all four members, each once.
bool statistic_set_of(element e, StatisticSetInput& out) {
  simdjson::dom::object fields;
  if (e.get_object().get(fields) != simdjson::SUCCESS) return false;
  unsigned seen = 0;
  for (auto field : fields) {
    unsigned bit;
    double* slot;
    if (field.key == "SampleCount") {
      bit = 1, slot = &out.sample_count;
    } else if (field.key == "Sum") {
      bit = 2, slot = &out.sum;
    } else if (field.key == "Minimum") {
      bit = 4, slot = &out.minimum;
    } else if (field.key == "Maximum") {
      bit = 8, slot = &out.maximum;
    } else {
      return false;  // unknown member
    }
    if ((seen & bit) || !number_of(field.value, *slot)) return false;
    seen |= bit;
  }
  return seen == 15;
}

// Dimension: Name (1-255) and Value (1-1024), both required, each once. Assigning into the
// reused pair keeps its strings' buffers.
bool dimension_of(element e, std::pair<std::string, std::string>& out) {
  simdjson::dom::object fields;
  if (e.get_object().get(fields) != simdjson::SUCCESS) return false;
  bool have_name = false, have_value = false;
  for (auto field : fields) {
    std::string_view s;
    if (field.key == "Name") {
      if (have_name || !string_of(field.value, kMaxDimensionNameChars, s)) return false;
      out.first.assign(s.data(), s.size());
      have_name = true;
    } else if (field.key == "Value") {
      if (have_value || !string_of(field.value, kMaxDimensionValueChars, s)) return false;
      out.second.assign(s.data(), s.size());
      have_value = true;
    } else {
      return false;  // unknown member
    }
  }
  return have_name && have_value;
}

bool dimensions_of(element e, std::vector<std::pair<std::string, std::string>>& out) {
  simdjson::dom::array list;
  if (e.get_array().get(list) != simdjson::SUCCESS) return false;
  size_t n = list.size();  // O(1) from the tape; saturates at 2^24 - 1, far above the limit
  if (n > kMaxDimensions) return false;
  out.resize(n);  // not clear(): shrinking or regrowing within capacity keeps the strings' buffers
  size_t i = 0;
  for (element item : list)
    if (!dimension_of(item, out[i++])) return false;
  return true;
}

using namespace datum_members;  // DatumMember, datum_member()

// One MetricDatum into `out`, which may hold the previous call's datum: every member not sent
// is reset at the end, so nothing stale survives.
bool datum_of(element e, MetricDatumInput& out) {
  simdjson::dom::object fields;
  if (e.get_object().get(fields) != simdjson::SUCCESS) return false;
  unsigned seen = 0;
  for (auto field : fields) {
    unsigned m = datum_member(field.key);
    if (m == 0 || (seen & m)) return false;  // unknown or duplicate member
    seen |= m;
    element v = field.value;
    switch (m) {
      case kMetricName: {
        std::string_view name;
        if (!string_of(v, kMaxMetricNameChars, name)) return false;
        out.metric_name.assign(name.data(), name.size());
        break;
      }
      case kDimensions:
        if (!dimensions_of(v, out.dimensions)) return false;
        break;
      case kTimestamp: {
        double t;
        if (!number_of(v, t)) return false;
        out.timestamp_s = t;
        break;
      }
      case kValue: {
        double d;
        if (!number_of(v, d)) return false;
        out.value = d;
        break;
      }
      case kStatisticValues: {
        StatisticSetInput set;
        if (!statistic_set_of(v, set)) return false;
        out.statistic_values = set;
        break;
      }
      case kValues:
        if (!doubles_of(v, out.values)) return false;
        break;
      case kCounts:
        if (!doubles_of(v, out.counts)) return false;
        break;
      case kUnit: {
        std::string_view unit;
        if (v.get_string().get(unit) != simdjson::SUCCESS || !is_standard_unit(unit)) return false;
        if (out.unit)
          out.unit->assign(unit.data(), unit.size());
        else
          out.unit.emplace(unit);
        break;
      }
      case kStorageResolution: {
        int64_t r;
        if (!storage_resolution_of(v, r)) return false;
        out.storage_resolution = r;
        break;
      }
    }
  }
  if (!(seen & kMetricName)) return false;  // required
  if (!(seen & kDimensions)) out.dimensions.clear();
  if (!(seen & kTimestamp)) out.timestamp_s.reset();
  if (!(seen & kValue)) out.value.reset();
  if (!(seen & kStatisticValues)) out.statistic_values.reset();
  if (!(seen & kValues)) out.values.reset();  // frees a previous datum's list: absent != empty
  if (!(seen & kCounts)) out.counts.reset();
  if (!(seen & kUnit)) out.unit.reset();
  if (!(seen & kStorageResolution)) out.storage_resolution.reset();
  return true;
}

bool root_of(element root, PutMetricDataInput& out) {
  simdjson::dom::object fields;
  if (root.get_object().get(fields) != simdjson::SUCCESS) return false;
  bool have_namespace = false, have_data = false, have_strict = false;
  for (auto field : fields) {
    std::string_view key = field.key;
    element value = field.value;
    if (key == "MetricData") {
      simdjson::dom::array list;
      if (have_data || value.get_array().get(list) != simdjson::SUCCESS) return false;
      std::vector<MetricDatumInput>& data = out.metric_data ? *out.metric_data : out.metric_data.emplace();
      data.reserve(list.size());  // a hint (the count saturates at 2^24 - 1)
      // Decode over the previous call's datums where there are some: their strings, dimension
      // lists and Values keep their buffers, so a steady stream of similar calls allocates
      // nothing here.
      size_t n = 0;
      for (element item : list) {
        if (n == data.size()) data.emplace_back();
        if (!datum_of(item, data[n++])) return false;
      }
      data.resize(n);
      have_data = true;
    } else if (key == "Namespace") {
      std::string_view ns;
      if (have_namespace || value.get_string().get(ns) != simdjson::SUCCESS || !valid_namespace(ns)) return false;
      out.namespace_.assign(ns.data(), ns.size());
      have_namespace = true;
    } else if (key == "StrictEntityValidation") {
      // A boolean, accepted and ignored (it only qualifies EntityMetricData).
      if (have_strict || !value.is_bool()) return false;
      have_strict = true;
    } else {
      // EntityMetricData (rare, and a list of structures with constrained maps: the generic
      // path handles it, null or empty included) and unknown members.
      return false;
    }
  }
  if (!have_namespace) return false;  // required
  if (!have_data) out.metric_data.reset();
  out.has_entity_metric_data = false;
  return true;
}

}  // namespace

bool decode_put_metric_data(std::string_view body, PutMetricDataInput& out) {
  // Per thread, reused: the parser's tape and string buffers and the padded copy of the body
  // (simdjson reads up to SIMDJSON_PADDING bytes past the end). Steady state: no allocation.
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  constexpr size_t kKeepBytes = 4 << 20;  // do not keep a huge body's buffer forever
  if (padded.capacity() > kKeepBytes && body.size() + simdjson::SIMDJSON_PADDING <= kKeepBytes) std::string().swap(padded);
  if (padded.size() < body.size() + simdjson::SIMDJSON_PADDING) padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  if (!body.empty()) std::memcpy(padded.data(), body.data(), body.size());  // data() may be null
  std::memset(padded.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  element root;
  if (parser.parse(padded.data(), body.size(), false).get(root) != simdjson::SUCCESS) return false;
  return root_of(root, out);
}

}  // namespace vigil::cloudwatch
