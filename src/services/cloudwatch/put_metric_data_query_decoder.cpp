#include "services/cloudwatch/put_metric_data_query_decoder.h"

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "protocol/schema.h"
#include "protocol/xml.h"

// What the decoder must mirror (src/protocol/query_codec.cpp, src/protocol/xml.cpp
// text_to_scalar, src/core/encoding.cpp, src/protocol/validate.cpp, schema/cloudwatch.json):
//  - parse_form splits on '&', skips empty parts, splits each at its first '=' (none: an empty
//    value) and percent-decodes both sides ('+' is a space; a '%' not followed by two hex
//    digits stays as it is);
//  - query_params_to_value drops Action, Version and empty names, builds a tree of the dotted
//    names (a repeated name: the last value wins), ignores names that match no member, sorts
//    list items by index (any order, gaps closed up, leading zeros allowed, so "01" and "1"
//    are two items with the same index), turns a list node with a value and no children into
//    an empty list whatever the value, and ignores a value on a structure node;
//  - scalars: strings as they are; doubles "NaN"/"Infinity"/"-Infinity" or strtod of the
//    whole text (at most 400 bytes, finite); integers an optional '+' then from_chars int64
//    within int32; timestamps (at most 64 bytes) parse_any_timestamp (iso8601, rfc822, epoch);
//  - validate_input: required members, lengths in code points (bytes that are not UTF-8
//    continuation bytes), list sizes, enums, the Namespace pattern (RE2).
// The decoder takes the subset botocore writes, calls the same scalar parsers where it does
// not reproduce them exactly (and checks that it does in the unit test), and declines the rest.

namespace vigil::cloudwatch {

namespace {

// Scalar values (numbers, timestamps, units) are decoded into a stack buffer of this size; a
// longer raw value is declined (the generic path rejects doubles over 400 bytes and timestamps
// over 64, and no unit is that long).
constexpr size_t kScalarBuffer = 512;
constexpr size_t kMaxDoubleBytes = 400;     // text_to_scalar's limit
constexpr size_t kMaxTimestampBytes = 64;   // text_to_scalar's limit

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// percent_decode(raw, /*plus_is_space=*/true) into `dst` (room for raw.size() bytes); returns
// the decoded length. Same rule, byte for byte: "%XX" with two hex digits is a byte, any
// other '%' stays, '+' is a space. `ascii` tells whether every decoded byte is below 0x80
// (then the text is valid UTF-8 and its length counts its characters, with no second pass).
size_t decode_to(std::string_view raw, char* dst, bool& ascii) {
  size_t n = 0;
  unsigned high = 0;
  const size_t size = raw.size();
  for (size_t i = 0; i < size; ++i) {
    char c = raw[i];
    if (c == '%' && i + 2 < size) {
      int hi = hex_digit(raw[i + 1]), lo = hex_digit(raw[i + 2]);
      if (hi >= 0 && lo >= 0) {
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    } else if (c == '+') {
      c = ' ';
    }
    high |= static_cast<unsigned char>(c);
    dst[n++] = c;
  }
  ascii = high < 0x80;
  return n;
}

// Decodes into the destination string itself: no intermediate copy, and a reused string keeps
// its buffer. Returns decode_to's `ascii`.
bool assign_decoded(std::string& dst, std::string_view raw) {
  bool ascii;
  dst.resize(raw.size());
  dst.resize(decode_to(raw, dst.data(), ascii));
  return ascii;
}

// Characters (code points) as validate_input counts them: bytes that are not UTF-8
// continuation bytes.
size_t chars_of(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A string member: 1..max characters, and valid UTF-8 (the generic path takes invalid UTF-8
// in most strings; declining it keeps the fast path's output well-formed). ASCII text (the
// usual) is both by its length alone.
bool valid_string(std::string_view s, bool ascii, size_t max_chars) {
  if (ascii) return !s.empty() && s.size() <= max_chars;
  size_t chars = chars_of(s);
  return chars >= 1 && chars <= max_chars && simdjson::validate_utf8(s.data(), s.size());
}

// Namespace: also the pattern [^:].* (RE2, dot-all, full match): on valid UTF-8, "the first
// character is not ':'".
bool valid_namespace(std::string_view s, bool ascii) { return valid_string(s, ascii, kMaxNamespaceChars) && s[0] != ':'; }

// Parameter names against literals, the literal's length known to the compiler (GCC inlines
// some of these memcmp calls as a few loads; measured faster than a byte loop either way).
template <size_t N>
inline bool is(std::string_view s, const char (&literal)[N]) {
  return s.size() == N - 1 && std::memcmp(s.data(), literal, N - 1) == 0;
}

template <size_t N>
inline bool take_prefix(std::string_view& s, const char (&literal)[N]) {
  if (s.size() < N - 1 || std::memcmp(s.data(), literal, N - 1) != 0) return false;
  s.remove_prefix(N - 1);
  return true;
}


// Standalone scalar shapes for calling text_to_scalar, the generic path's own parser, where the
// decoder does not reproduce it (rare number and timestamp forms, integers).
const protocol::Shape& scalar_shape(protocol::ShapeType type) {
  static const protocol::Shape kDouble = [] {
    protocol::Shape s;
    s.type = protocol::ShapeType::Double;
    return s;
  }();
  static const protocol::Shape kInteger = [] {
    protocol::Shape s;
    s.type = protocol::ShapeType::Integer;
    return s;
  }();
  static const protocol::Shape kTimestamp = [] {
    protocol::Shape s;
    s.type = protocol::ShapeType::Timestamp;
    return s;
  }();
  switch (type) {
    case protocol::ShapeType::Double: return kDouble;
    case protocol::ShapeType::Integer: return kInteger;
    default: return kTimestamp;
  }
}

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The decimal forms Python's repr writes ("1.5", "-3", "1e-05", "1.5e+20", at most 18
// significant digits) when the significand is at most 2^53 and the power of ten at most 22:
// both are exact doubles, so one IEEE multiplication or division is the correctly rounded
// value strtod returns (Clinger's fast path). False: not such a form (nothing is decided).
bool simple_decimal(std::string_view text, double& out) {
  size_t i = 0;
  const size_t n = text.size();
  const bool negative = n && text[0] == '-';
  i += negative;
  uint64_t mantissa = 0;
  int significant = 0;  // digits from the first non-zero one
  int digits = 0;
  int scale = 0;  // the decimal exponent
  auto take_digits = [&](bool fraction) {
    for (; i < n && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (mantissa || text[i] != '0') ++significant;
      if (significant > 18) return false;  // the mantissa could overflow
      mantissa = mantissa * 10 + uint64_t(text[i] - '0');
      ++digits;
      scale -= fraction;
    }
    return true;
  };
  if (!take_digits(false)) return false;
  if (i < n && text[i] == '.') {
    ++i;
    if (!take_digits(true)) return false;
  }
  if (digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    if (i == n) return false;
    int exponent = 0;
    for (; i < n && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 1000) return false;
    }
    scale += exp_negative ? -exponent : exponent;
  }
  if (i != n || mantissa > (uint64_t(1) << 53) || scale < -22 || scale > 22) return false;
  double d = static_cast<double>(mantissa);  // exact
  d = scale < 0 ? d / kPow10[-scale] : d * kPow10[scale];
  out = negative ? -d : d;
  return true;
}

// A DatapointValue as text_to_scalar reads it (strtod of the whole text, finite; or the three
// special words): simple_decimal for the usual forms, else text_to_scalar itself. "NaN" is
// declined: the generic path takes it, but it is never equal to itself.
bool double_of(std::string_view text, double& out) {
  if (text.empty() || text.size() > kMaxDoubleBytes) return false;
  if (simple_decimal(text, out)) return true;
  std::optional<Value> v = protocol::text_to_scalar(text, scalar_shape(protocol::ShapeType::Double));
  if (!v) return false;
  out = v->as_double();
  return !std::isnan(out);
}

bool digits_at(std::string_view t, size_t at, size_t count, int& out) {
  int v = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    v = v * 10 + (t[i] - '0');
  }
  out = v;
  return true;
}

// The form botocore writes, YYYY-MM-DDTHH:MM:SS[.f{1,15}]Z, as parse_iso8601 computes it:
// timegm of the fields (which carries a day past the month's end and second 60 over, both
// linear, as below) plus strtod of the fraction (".123456": n / 10^k with n < 2^53 and an
// exact power of ten is the correctly rounded quotient strtod returns). The unit test checks
// this against parse_iso8601 on random and edge dates. Any other form: text_to_scalar itself.
bool timestamp_of(std::string_view t, double& out) {
  int year, month, day, hour, minute, second;
  if (t.size() >= 20 && t.size() <= 36 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t.back() == 'Z' &&
      digits_at(t, 0, 4, year) && digits_at(t, 5, 2, month) && digits_at(t, 8, 2, day) && digits_at(t, 11, 2, hour) &&
      digits_at(t, 14, 2, minute) && digits_at(t, 17, 2, second) && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 &&
      minute <= 59 && second <= 60) {
    double fraction = 0;
    bool ok = t.size() == 20;
    if (!ok && t[19] == '.' && t.size() >= 22) {
      uint64_t n = 0;
      size_t k = 0;
      ok = true;
      for (size_t i = 20; i + 1 < t.size(); ++i, ++k) {
        if (t[i] < '0' || t[i] > '9') {
          ok = false;
          break;
        }
        n = n * 10 + uint64_t(t[i] - '0');
      }
      if (ok) fraction = static_cast<double>(n) / kPow10[k];  // k <= 15: n < 10^15 < 2^53
    }
    if (ok) {
      int64_t seconds = (days_from_civil(year, unsigned(month), 1) + day - 1) * 86400 + int64_t(hour) * 3600 + minute * 60 + second;
      out = static_cast<double>(seconds) + fraction;
      return true;
    }
  }
  if (t.size() > kMaxTimestampBytes) return false;
  std::optional<Value> v = protocol::text_to_scalar(t, scalar_shape(protocol::ShapeType::Timestamp));
  if (!v) return false;
  out = v->as_timestamp().epoch_seconds;
  return true;
}

// StorageResolution: text_to_scalar's integer (an int32), then the model's min 1.
bool storage_resolution_of(std::string_view text, int64_t& out) {
  std::optional<Value> v = protocol::text_to_scalar(text, scalar_shape(protocol::ShapeType::Integer));
  if (!v) return false;
  out = v->as_int();
  return out >= 1;
}

// A canonical list index at the front of `s` ("1".."999999999": no sign, no leading zero,
// which the generic path would read as the same index as another item), consumed.
inline bool take_index(std::string_view& s, uint32_t& out) {
  size_t i = 0;
  uint32_t v = 0;
  while (i < s.size() && i < 9 && s[i] >= '0' && s[i] <= '9') v = v * 10 + uint32_t(s[i++] - '0');
  if (i == 0 || s[0] == '0' || (i < s.size() && s[i] >= '0' && s[i] <= '9')) return false;
  s.remove_prefix(i);
  out = v;
  return true;
}

// How a list member was sent: not at all, as `List=` (an empty list), or as items.
enum class ListState : uint8_t { kAbsent, kEmpty, kItems };

// The members of MetricDatum sent as a single parameter, as bits of a "seen" mask (a repeat is
// declined).
enum DatumScalar : unsigned {
  kMetricName = 1 << 0,
  kTimestamp = 1 << 1,
  kValue = 1 << 2,
  kUnit = 1 << 3,
  kStorageResolution = 1 << 4,
};

class Decoder {
 public:
  explicit Decoder(PutMetricDataInput& out) : out_(out), data_(out.metric_data ? *out.metric_data : out.metric_data.emplace()) {}

  bool run(std::string_view body) {
    size_t pos = 0;
    const size_t size = body.size();
    while (pos < size) {
      const char* amp = static_cast<const char*>(std::memchr(body.data() + pos, '&', size - pos));
      size_t end = amp ? static_cast<size_t>(amp - body.data()) : size;
      if (end > pos) {  // parse_form skips empty parts
        std::string_view part = body.substr(pos, end - pos);
        const char* eq = static_cast<const char*>(std::memchr(part.data(), '=', part.size()));
        size_t key_size = eq ? static_cast<size_t>(eq - part.data()) : part.size();
        std::string_view value = eq ? part.substr(key_size + 1) : std::string_view();
        if (!parameter(part.substr(0, key_size), value)) return false;
      }
      pos = end + 1;
    }
    return finish();
  }

 private:
  // One parameter, its name still raw: a name with '%' or '+' matches none of the literals
  // below and is declined, so the raw name is the decoded one.
  bool parameter(std::string_view key, std::string_view value) {
    if (take_prefix(key, "MetricData.member.")) return datum_parameter(key, value);
    if (is(key, "Namespace")) {
      if (have_namespace_) return false;
      have_namespace_ = true;
      bool ascii = assign_decoded(out_.namespace_, value);
      return valid_namespace(out_.namespace_, ascii);
    }
    if (is(key, "Action") || is(key, "Version")) return true;  // the dispatcher already chose the operation
    if (is(key, "MetricData")) {
      if (data_state_ != ListState::kAbsent || !value.empty()) return false;
      data_state_ = ListState::kEmpty;
      return true;
    }
    if (is(key, "StrictEntityValidation")) {
      // A boolean (true/false in any case, as text_to_scalar reads it), accepted and ignored:
      // it only qualifies EntityMetricData.
      char buf[8];
      if (have_strict_ || value.size() > sizeof buf) return false;
      bool ascii;
      std::string_view text(buf, decode_to(value, buf, ascii));
      have_strict_ = true;
      return equals_ignore_case(text, "true") || equals_ignore_case(text, "false");
    }
    return false;  // EntityMetricData, unknown, empty or encoded names
  }

  bool datum_parameter(std::string_view key, std::string_view value) {
    uint32_t index;
    if (!take_index(key, index) || !take_prefix(key, ".")) return false;
    if (index != count_) {  // a new datum: the next index, after the previous one is complete
      if (index != count_ + 1 || data_state_ == ListState::kEmpty || (count_ && !finish_datum())) return false;
      start_datum();
    }
    MetricDatumInput& d = data_[count_ - 1];
    switch (key.empty() ? '\0' : key[0]) {
      case 'M': {
        if (!is(key, "MetricName") || !first(kMetricName)) return false;
        bool ascii = assign_decoded(d.metric_name, value);  // before the string is viewed
        return valid_string(d.metric_name, ascii, kMaxMetricNameChars);
      }
      case 'D':
        if (take_prefix(key, "Dimensions")) return dimension_parameter(d, key, value);
        return false;
      case 'T': {
        char buf[kScalarBuffer];
        std::string_view text;
        double t;
        if (!is(key, "Timestamp") || !first(kTimestamp) || !scalar(value, buf, text) || !timestamp_of(text, t)) return false;
        d.timestamp_s = t;
        return true;
      }
      case 'V':
        if (is(key, "Value")) {
          char buf[kScalarBuffer];
          std::string_view text;
          double v;
          if (!first(kValue) || !scalar(value, buf, text) || !double_of(text, v)) return false;
          d.value = v;
          return true;
        }
        if (take_prefix(key, "Values")) return list_parameter(d.values, values_, key, value);
        return false;
      case 'C':
        if (take_prefix(key, "Counts")) return list_parameter(d.counts, counts_, key, value);
        return false;
      case 'U': {
        char buf[kScalarBuffer];
        std::string_view text;
        if (!is(key, "Unit") || !first(kUnit) || !scalar(value, buf, text) || !is_standard_unit(text)) return false;
        if (d.unit)
          d.unit->assign(text);
        else
          d.unit.emplace(text);
        return true;
      }
      case 'S':
        if (is(key, "StorageResolution")) {
          char buf[kScalarBuffer];
          std::string_view text;
          int64_t r;
          if (!first(kStorageResolution) || !scalar(value, buf, text) || !storage_resolution_of(text, r)) return false;
          d.storage_resolution = r;
          return true;
        }
        if (take_prefix(key, "StatisticValues.")) return statistic_parameter(d, key, value);
        return false;
      default: return false;
    }
  }

  // Dimensions= (an empty list) or Dimensions.member.<j>.Name / .Value.
  bool dimension_parameter(MetricDatumInput& d, std::string_view key, std::string_view value) {
    if (key.empty()) {
      if (dims_state_ != ListState::kAbsent || !value.empty()) return false;
      dims_state_ = ListState::kEmpty;
      return true;
    }
    uint32_t index;
    if (!take_prefix(key, ".member.") || !take_index(key, index) || dims_state_ == ListState::kEmpty) return false;
    if (index != dim_count_) {
      if (index != dim_count_ + 1 || index > kMaxDimensions || (dim_count_ && dim_seen_ != 3)) return false;
      if (dim_count_ == d.dimensions.size()) d.dimensions.emplace_back();  // else reuse the slot's strings
      ++dim_count_;
      dim_seen_ = 0;
      dims_state_ = ListState::kItems;
    }
    auto& dim = d.dimensions[dim_count_ - 1];
    if (is(key, ".Name")) {
      if (dim_seen_ & 1) return false;
      dim_seen_ |= 1;
      bool ascii = assign_decoded(dim.first, value);
      return valid_string(dim.first, ascii, kMaxDimensionNameChars);
    }
    if (is(key, ".Value")) {
      if (dim_seen_ & 2) return false;
      dim_seen_ |= 2;
      bool ascii = assign_decoded(dim.second, value);
      return valid_string(dim.second, ascii, kMaxDimensionValueChars);
    }
    return false;
  }

  // Values= / Counts= (an empty list) or Values.member.<k> / Counts.member.<k>, k = 1, 2, ...
  bool list_parameter(std::optional<std::vector<double>>& list, ListState& state, std::string_view key, std::string_view value) {
    if (key.empty()) {
      if (state != ListState::kAbsent || !value.empty()) return false;
      state = ListState::kEmpty;
      list.emplace();  // present but empty (a fresh vector: the reused one keeps no buffer anyway)
      return true;
    }
    uint32_t index;
    if (!take_prefix(key, ".member.") || !take_index(key, index) || !key.empty() || state == ListState::kEmpty) return false;
    if (state == ListState::kAbsent) {
      if (list)
        list->clear();  // the reused datum's list keeps its buffer
      else
        list.emplace();
      state = ListState::kItems;
    }
    if (index != list->size() + 1) return false;
    char buf[kScalarBuffer];
    std::string_view text;
    double v;
    if (!scalar(value, buf, text) || !double_of(text, v)) return false;
    list->push_back(v);
    return true;
  }

  bool statistic_parameter(MetricDatumInput& d, std::string_view key, std::string_view value) {
    StatisticSetInput& s = d.statistic_values ? *d.statistic_values : d.statistic_values.emplace();
    unsigned bit;
    double* slot;
    if (is(key, "SampleCount")) {
      bit = 1, slot = &s.sample_count;
    } else if (is(key, "Sum")) {
      bit = 2, slot = &s.sum;
    } else if (is(key, "Minimum")) {
      bit = 4, slot = &s.minimum;
    } else if (is(key, "Maximum")) {
      bit = 8, slot = &s.maximum;
    } else {
      return false;
    }
    if (stats_seen_ & bit) return false;
    stats_seen_ |= bit;
    char buf[kScalarBuffer];
    std::string_view text;
    return scalar(value, buf, text) && double_of(text, *slot);
  }

  // Decodes a scalar value into `buf`, viewed by `text`.
  static bool scalar(std::string_view raw, char (&buf)[kScalarBuffer], std::string_view& text) {
    if (raw.size() > kScalarBuffer) return false;
    bool ascii;
    text = std::string_view(buf, decode_to(raw, buf, ascii));
    return true;
  }

  bool first(unsigned bit) {
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }

  void start_datum() {
    if (count_ == data_.size()) data_.emplace_back();  // else decode over the previous call's datum
    ++count_;
    data_state_ = ListState::kItems;
    seen_ = 0;
    stats_seen_ = 0;
    dim_count_ = 0;
    dim_seen_ = 0;
    dims_state_ = values_ = counts_ = ListState::kAbsent;
  }

  // Completes the current datum: required members, and every member not sent reset (the slot
  // may hold a previous call's datum).
  bool finish_datum() {
    MetricDatumInput& d = data_[count_ - 1];
    if (!(seen_ & kMetricName) || (dim_count_ && dim_seen_ != 3) || (stats_seen_ && stats_seen_ != 15)) return false;
    d.dimensions.resize(dim_count_);
    if (!(seen_ & kTimestamp)) d.timestamp_s.reset();
    if (!(seen_ & kValue)) d.value.reset();
    if (!stats_seen_) d.statistic_values.reset();
    if (values_ == ListState::kAbsent) d.values.reset();
    if (counts_ == ListState::kAbsent) d.counts.reset();
    if (!(seen_ & kUnit)) d.unit.reset();
    if (!(seen_ & kStorageResolution)) d.storage_resolution.reset();
    return true;
  }

  bool finish() {
    if (!have_namespace_) return false;  // required
    if (count_ && !finish_datum()) return false;
    switch (data_state_) {
      case ListState::kAbsent: out_.metric_data.reset(); break;
      case ListState::kEmpty: data_.clear(); break;
      case ListState::kItems: data_.resize(count_); break;
    }
    out_.has_entity_metric_data = false;
    return true;
  }

  PutMetricDataInput& out_;
  std::vector<MetricDatumInput>& data_;
  bool have_namespace_ = false, have_strict_ = false;
  ListState data_state_ = ListState::kAbsent;
  uint32_t count_ = 0;  // datums started; the current one is data_[count_ - 1]
  // The current datum.
  unsigned seen_ = 0, stats_seen_ = 0, dim_seen_ = 0;
  uint32_t dim_count_ = 0;
  ListState dims_state_ = ListState::kAbsent, values_ = ListState::kAbsent, counts_ = ListState::kAbsent;
};

}  // namespace

bool decode_put_metric_data_query(std::string_view body, PutMetricDataInput& out) { return Decoder(out).run(body); }

}  // namespace vigil::cloudwatch
