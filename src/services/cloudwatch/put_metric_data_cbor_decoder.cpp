#include "services/cloudwatch/put_metric_data_cbor_decoder.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "protocol/cbor.h"

// What it must mirror (src/protocol/cbor.cpp, src/protocol/cbor_codec.cpp, src/protocol/
// validate.cpp, schema/cloudwatch.json):
//  - cbor::decode takes any well-formed item: non-minimal heads, indefinite lengths, tags
//    (tag 1 wrapping a finite number becomes a Timestamp, others are transparent), any simple
//    value (null, undefined and unassigned ones become Null); text must be valid UTF-8, map
//    keys text strings, and nothing may trail the root item.
//  - CborCodec's convert ignores unknown members and null members, keeps the first non-null
//    occurrence of a member (later ones unconverted), keeps null list items (validation skips
//    them), takes Int or Double for double shapes (as_double), a Timestamp or a finite
//    Int/Double for timestamps, and an Int or integral Double within int32 for integers.
//  - validate_input checks required members, string lengths in code points, list sizes, enums
//    (Unit), patterns (Namespace) and minimums (StorageResolution).
// What botocore 1.43 (RpcV2CBORSerializer) sends is all taken: definite lengths, minimal
// heads, doubles as float64 (NaN/Infinity as half floats), Timestamp as tag 1 + an unsigned
// integer, StorageResolution as an integer. Other encoders' definite/indefinite arrays and
// maps, half/single floats, integers for doubles and tag-1 floats are taken too.

namespace vigil::cloudwatch {

namespace {

constexpr uint8_t kBreak = 0xff;


// One CBOR head: the major type, the additional info and its argument.
struct Head {
  uint8_t major = 0;
  uint8_t info = 0;   // 31: indefinite length (major 7: a break)
  uint64_t arg = 0;   // for major 7 floats (info 25-27), the float's bits
  bool indefinite() const { return info == 31; }
};

// An array or map being read: its remaining count, or indefinite (ends at a break byte).
struct Container {
  uint64_t left = 0;
  bool indefinite = false;
};

// A number for a double shape from its head, exactly as cbor::decode then Value::as_double
// convert it: integers within int64 as int64, beyond it straight to double (-1.0 - n for
// negative ones); half floats by cbor::half_to_double, single floats widened, doubles as sent.
// NaN and infinities are numbers here (store_metric_data rejects them).
bool number_of(const Head& h, double& out) {
  constexpr uint64_t kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (h.indefinite()) return false;
  switch (h.major) {
    case 0: out = h.arg <= kMaxInt64 ? static_cast<double>(static_cast<int64_t>(h.arg)) : static_cast<double>(h.arg); return true;
    case 1: out = h.arg <= kMaxInt64 ? static_cast<double>(-1 - static_cast<int64_t>(h.arg)) : -1.0 - static_cast<double>(h.arg); return true;
    case 7:
      switch (h.info) {
        case 25: out = protocol::cbor::half_to_double(static_cast<uint16_t>(h.arg)); return true;
        case 26: {
          uint32_t bits = static_cast<uint32_t>(h.arg);
          float f;
          std::memcpy(&f, &bits, sizeof f);
          out = static_cast<double>(f);
          return true;
        }
        case 27: {
          uint64_t bits = h.arg;
          std::memcpy(&out, &bits, sizeof out);
          return true;
        }
        default: return false;  // false/true/null/undefined/other simple values
      }
    default: return false;  // strings, containers, tags
  }
}

// A cursor over the body. Every method returns false to decline (truncation included), after
// which the cursor is not used again.
class Reader {
 public:
  explicit Reader(std::string_view body) : p_(reinterpret_cast<const uint8_t*>(body.data())), end_(p_ + body.size()) {}

  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  // An array (major 4) or map (major 5) head. A definite count is checked against the
  // remaining bytes (every item takes at least one), as cbor::decode does.
  bool open(uint8_t major, Container& c) {
    Head h;
    if (!head(h) || h.major != major) return false;
    c.indefinite = h.indefinite();
    c.left = h.arg;
    return c.indefinite || c.left <= remaining();
  }

  // Before each item (or key/value pair) of `c`: `more` is false at its end (the count
  // reached, or the break of an indefinite container, consumed).
  bool next(Container& c, bool& more) {
    if (!c.indefinite) {
      more = c.left != 0;
      if (more) --c.left;
      return true;
    }
    if (p_ == end_) return false;
    more = *p_ != kBreak;
    if (!more) ++p_;
    return true;
  }

  // A map key (or an enum value): a definite text string, not UTF-8-checked (only the model's
  // ASCII names are taken; anything else is declined, so invalid UTF-8 never gets through).
  bool key(std::string_view& out) { return string(out); }

  // A text string, valid UTF-8, of `min_chars` to `max_chars` code points.
  bool text(std::string_view& out, size_t min_chars, size_t max_chars) {
    size_t chars;
    if (!string(out) || !protocol::cbor::utf8_chars(out, chars)) return false;
    return chars >= min_chars && chars <= max_chars;
  }

  bool number(double& out) {
    Head h;
    return head(h) && number_of(h, out);
  }

  // A Timestamp: a finite number, with or without tag 1 (epoch time), as cbor::decode and
  // CborCodec take it. Other tags and a tag inside tag 1 are declined.
  bool timestamp(double& out) {
    Head h;
    if (!head(h)) return false;
    if (h.major == 6 && (h.indefinite() || h.arg != 1 || !head(h))) return false;
    return number_of(h, out) && std::isfinite(out);
  }

  // StorageResolution (integer, min 1): an integer, or an integral float, within [1, INT32_MAX]
  // (CborCodec's conversion, then the model's minimum; negative integers are below it).
  bool storage_resolution(int64_t& out) {
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    Head h;
    if (!head(h) || h.indefinite()) return false;
    if (h.major == 0) {
      if (h.arg < 1 || h.arg > static_cast<uint64_t>(kMax)) return false;
      out = static_cast<int64_t>(h.arg);
      return true;
    }
    double d;
    if (h.major != 7 || !number_of(h, d)) return false;
    if (!(d >= 1 && d <= static_cast<double>(kMax)) || std::floor(d) != d) return false;  // NaN fails the first test
    out = static_cast<int64_t>(d);
    return true;
  }

  // false or true, in their one-byte form (cbor::decode rejects two-byte simple values < 32).
  bool boolean() {
    if (p_ == end_ || (*p_ != 0xf4 && *p_ != 0xf5)) return false;
    ++p_;
    return true;
  }

 private:
  // Reserved infos (28-30) and truncation decline. Non-minimal heads are taken, as
  // cbor::decode takes them.
  bool head(Head& h) {
    if (p_ == end_) return false;
    uint8_t initial = *p_++;
    h.major = initial >> 5;
    h.info = initial & 0x1f;
    if (h.info < 24) {
      h.arg = h.info;
      return true;
    }
    size_t n;
    switch (h.info) {
      case 24: n = 1; break;
      case 25: n = 2; break;
      case 26: n = 4; break;
      case 27: n = 8; break;
      case 31: h.arg = 0; return true;
      default: return false;
    }
    if (remaining() < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p_[i];
    p_ += n;
    h.arg = v;
    return true;
  }

  // A definite-length text string's bytes (chunked indefinite ones are declined: rare, and
  // they would need a copy to compare or check).
  bool string(std::string_view& out) {
    Head h;
    if (!head(h) || h.major != 3 || h.indefinite() || h.arg > remaining()) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(h.arg));
    p_ += h.arg;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

// Calls `item` for each item (or pair) of the opened container `c`; false when any declines.
template <typename F>
bool each(Reader& r, Container& c, F&& item) {
  for (;;) {
    bool more;
    if (!r.next(c, more)) return false;
    if (!more) return true;
    if (!item()) return false;
  }
}

// Values, Counts: lists of numbers (no length constraints in the model). Reuses the vector.
bool doubles_of(Reader& r, std::optional<std::vector<double>>& out) {
  Container c;
  if (!r.open(4, c)) return false;
  std::vector<double>& v = out ? *out : out.emplace();
  v.clear();
  if (!c.indefinite) v.reserve(static_cast<size_t>(c.left));  // at most the body's size (each number takes a byte or more)
  return each(r, c, [&] {
    double d;
    if (!r.number(d)) return false;  // null items included
    v.push_back(d);
    return true;
  });
}

// StatisticSet: all four members, each once.
bool statistic_set_of(Reader& r, StatisticSetInput& out) {
  Container c;
  if (!r.open(5, c)) return false;
  unsigned seen = 0;
  bool ok = each(r, c, [&] {
    std::string_view k;
    if (!r.key(k)) return false;
    unsigned bit;
    double* slot;
    if (k == "SampleCount") {
      bit = 1, slot = &out.sample_count;
    } else if (k == "Sum") {
      bit = 2, slot = &out.sum;
    } else if (k == "Minimum") {
      bit = 4, slot = &out.minimum;
    } else if (k == "Maximum") {
      bit = 8, slot = &out.maximum;
    } else {
      return false;  // unknown member
    }
    if ((seen & bit) || !r.number(*slot)) return false;
    seen |= bit;
    return true;
  });
  return ok && seen == 15;
}

// Dimension: Name (1-255) and Value (1-1024), both required, each once. Assigning into the
// reused pair keeps its strings' buffers.
bool dimension_of(Reader& r, std::pair<std::string, std::string>& out) {
  Container c;
  if (!r.open(5, c)) return false;
  bool have_name = false, have_value = false;
  bool ok = each(r, c, [&] {
    std::string_view k, s;
    if (!r.key(k)) return false;
    if (k == "Name") {
      if (have_name || !r.text(s, 1, kMaxDimensionNameChars)) return false;
      out.first.assign(s.data(), s.size());
      have_name = true;
    } else if (k == "Value") {
      if (have_value || !r.text(s, 1, kMaxDimensionValueChars)) return false;
      out.second.assign(s.data(), s.size());
      have_value = true;
    } else {
      return false;  // unknown member
    }
    return true;
  });
  return ok && have_name && have_value;
}

bool dimensions_of(Reader& r, std::vector<std::pair<std::string, std::string>>& out) {
  Container c;
  if (!r.open(4, c) || (!c.indefinite && c.left > kMaxDimensions)) return false;
  // Decoded over the previous datum's pairs where there are some (their strings keep their
  // buffers); resize() at the end drops the extra ones.
  size_t n = 0;
  bool ok = each(r, c, [&] {
    if (n == kMaxDimensions) return false;  // an indefinite list too long
    if (n == out.size()) out.emplace_back();
    return dimension_of(r, out[n++]);
  });
  if (!ok) return false;
  out.resize(n);
  return true;
}

using namespace datum_members;  // DatumMember, datum_member()

// The smallest datum the decoder can take: a map head, the key "MetricName" (1 + 10 bytes) and
// a one-character name (2 bytes). Bounds a declared datum count before it sizes anything.
constexpr size_t kMinDatumBytes = 14;

// One MetricDatum into `out`, which may hold the previous call's datum: every member not sent
// is reset at the end, so nothing stale survives.
bool datum_of(Reader& r, MetricDatumInput& out) {
  Container c;
  if (!r.open(5, c)) return false;
  unsigned seen = 0;
  bool ok = each(r, c, [&] {
    std::string_view k;
    if (!r.key(k)) return false;
    unsigned m = datum_member(k);
    if (m == 0 || (seen & m)) return false;  // unknown or duplicate member
    seen |= m;
    switch (m) {
      case kMetricName: {
        std::string_view name;
        if (!r.text(name, 1, kMaxMetricNameChars)) return false;
        out.metric_name.assign(name.data(), name.size());
        return true;
      }
      case kDimensions: return dimensions_of(r, out.dimensions);
      case kTimestamp: {
        double t;
        if (!r.timestamp(t)) return false;
        out.timestamp_s = t;
        return true;
      }
      case kValue: {
        double d;
        if (!r.number(d)) return false;
        out.value = d;
        return true;
      }
      case kStatisticValues: {
        StatisticSetInput set;
        if (!statistic_set_of(r, set)) return false;
        out.statistic_values = set;
        return true;
      }
      case kValues: return doubles_of(r, out.values);
      case kCounts: return doubles_of(r, out.counts);
      case kUnit: {
        std::string_view unit;
        // Not UTF-8-checked: bytes equal to an (ASCII) enum value are valid UTF-8.
        if (!r.key(unit) || !is_standard_unit(unit)) return false;
        if (out.unit)
          out.unit->assign(unit.data(), unit.size());
        else
          out.unit.emplace(unit);
        return true;
      }
      case kStorageResolution: {
        int64_t res;
        if (!r.storage_resolution(res)) return false;
        out.storage_resolution = res;
        return true;
      }
      default: return false;
    }
  });
  if (!ok || !(seen & kMetricName)) return false;  // MetricName is required
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

bool metric_data_of(Reader& r, std::optional<std::vector<MetricDatumInput>>& out) {
  Container c;
  if (!r.open(4, c)) return false;
  std::vector<MetricDatumInput>& data = out ? *out : out.emplace();
  if (!c.indefinite) {
    if (c.left > r.remaining() / kMinDatumBytes) return false;  // cannot all be datums
    data.reserve(static_cast<size_t>(c.left));
  }
  // Decoded over the previous call's datums where there are some: their strings, dimension
  // lists and Values keep their buffers, so a steady stream of similar calls allocates
  // nothing here.
  size_t n = 0;
  bool ok = each(r, c, [&] {
    if (n == data.size()) data.emplace_back();
    return datum_of(r, data[n++]);
  });
  if (!ok) return false;
  data.resize(n);
  return true;
}

bool root_of(Reader& r, PutMetricDataInput& out) {
  Container c;
  if (!r.open(5, c)) return false;
  bool have_namespace = false, have_data = false, have_strict = false;
  bool ok = each(r, c, [&] {
    std::string_view k;
    if (!r.key(k)) return false;
    if (k == "MetricData") {
      if (have_data) return false;
      have_data = true;
      return metric_data_of(r, out.metric_data);
    }
    if (k == "Namespace") {
      // 1-255 characters and pattern [^:].* (RE2, dot-all, full match): on valid UTF-8, the
      // first character is not ':'.
      std::string_view ns;
      if (have_namespace || !r.text(ns, 1, kMaxNamespaceChars) || ns[0] == ':') return false;
      out.namespace_.assign(ns.data(), ns.size());
      have_namespace = true;
      return true;
    }
    if (k == "StrictEntityValidation") {
      // A boolean, accepted and ignored (it only qualifies EntityMetricData).
      if (have_strict || !r.boolean()) return false;
      have_strict = true;
      return true;
    }
    // EntityMetricData (rare, and a list of structures with constrained maps: the generic
    // path handles it, null or empty included) and unknown members.
    return false;
  });
  if (!ok || !have_namespace) return false;  // Namespace is required
  if (!have_data) out.metric_data.reset();
  out.has_entity_metric_data = false;
  return true;
}

}  // namespace

bool decode_put_metric_data_cbor(std::string_view body, PutMetricDataInput& out) {
  Reader r(body);
  return root_of(r, out) && r.done();  // trailing bytes: cbor::decode rejects them
}

}  // namespace vigil::cloudwatch
