#include "services/cloudwatch/quantile_sketch.h"

#include "core/ids.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace vigil::cloudwatch {

namespace {

constexpr double kGamma = (1 + QuantileSketch::kRelativeAccuracy) / (1 - QuantileSketch::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);
// Finite doubles map to keys within about +-38000; anything decoded beyond this is garbage.
constexpr int32_t kKeyLimit = 1 << 16;

// ---- encoding primitives ----

// One LEB128 varint off the front of `in`.
bool get_varint(std::string_view& in, uint64_t& v) {
  size_t at = 0;
  const bool ok = read_varint(in, at, v);
  in.remove_prefix(at);
  return ok;
}




void put_f64(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
}
bool get_f64(std::string_view& in, double& v) {
  if (in.size() < 8) return false;
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= uint64_t{static_cast<uint8_t>(in[static_cast<size_t>(i)])} << (i * 8);
  in.remove_prefix(8);
  std::memcpy(&v, &bits, 8);
  return true;
}
void put_f32(std::string& out, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
}
bool get_f32(std::string_view& in, double& v) {
  if (in.size() < 4) return false;
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) bits |= uint32_t{static_cast<uint8_t>(in[static_cast<size_t>(i)])} << (i * 8);
  in.remove_prefix(4);
  float f;
  std::memcpy(&f, &bits, 4);
  v = f;
  return true;
}

// Integers (the common case: latencies in ms, byte counts) and float-exact values cost fewer
// bytes than a raw double. Tags: 0 zigzag varint, 1 float32, 2 float64.
constexpr double kExactInt = 9007199254740992.0;  // 2^53
int value_tag(double v) {
  if (v == std::floor(v) && std::fabs(v) < kExactInt && !(v == 0 && std::signbit(v))) return 0;
  if (static_cast<double>(static_cast<float>(v)) == v) return 1;
  return 2;
}
void put_value(std::string& out, int tag, double v) {
  if (tag == 0) append_varint(out, zigzag(static_cast<int64_t>(v)));
  else if (tag == 1) put_f32(out, static_cast<float>(v));
  else put_f64(out, v);
}
bool get_value(std::string_view& in, int tag, double& v) {
  if (tag == 0) {
    uint64_t z;
    if (!get_varint(in, z)) return false;
    int64_t i = unzigzag(z);
    if (i >= int64_t{1} << 53 || i <= -(int64_t{1} << 53)) return false;
    v = static_cast<double>(i);
    return true;
  }
  if (tag == 1) return get_f32(in, v) && std::isfinite(v);
  if (tag == 2) return get_f64(in, v) && std::isfinite(v);
  return false;
}

// Counts: a positive integer below 2^52 is varint(c << 1) (1 byte for counts up to 63);
// anything else is the byte 0x01 followed by the raw double.
constexpr double kCountIntLimit = 4503599627370496.0;  // 2^52
void put_count(std::string& out, double c) {
  if (c == std::floor(c) && c >= 1 && c < kCountIntLimit) {
    append_varint(out, static_cast<uint64_t>(c) << 1);
  } else {
    out.push_back(1);
    put_f64(out, c);
  }
}
bool get_count(std::string_view& in, double& c) {
  uint64_t x;
  if (!get_varint(in, x)) return false;
  if (x & 1) return x == 1 && get_f64(in, c) && std::isfinite(c) && c > 0;
  c = static_cast<double>(x >> 1);
  return c >= 1;
}

// Flags byte.
constexpr uint8_t kHasZero = 1, kHasPos = 2, kHasNeg = 4;
constexpr int kMinTagShift = 3, kMaxTagShift = 5;
constexpr int kMaxSameAsMin = 3;

}  // namespace

// ---- Store ----

// Makes `key` addressable, keeping the used range. Grows with slack in the direction of
// growth so a run of new extremes costs O(1) amortized, not O(range) each.
void QuantileSketch::Store::reserve_for(int32_t key) {
  int64_t size = static_cast<int64_t>(counts_.size());
  if (!counts_.empty() && key >= offset_ && key < offset_ + size) return;
  int32_t new_lo = empty() ? key : std::min(lo_, key);
  int32_t new_hi = empty() ? key : std::max(hi_, key);
  int64_t span = int64_t{new_hi} - new_lo + 1;
  int64_t slack = std::min<int64_t>(std::max<int64_t>(span / 2, 8), kMaxBuckets);
  int32_t new_offset = new_lo;
  if (!empty() && key < lo_) new_offset = static_cast<int32_t>(new_lo - slack);  // growing downward
  int64_t new_size = span + slack;
  std::vector<double> grown(static_cast<size_t>(new_size), 0.0);
  if (!empty()) {
    for (int32_t k = lo_; k <= hi_; ++k) grown[static_cast<size_t>(k - new_offset)] = at(k);
  }
  counts_.swap(grown);
  offset_ = new_offset;
}

void QuantileSketch::Store::add(int32_t key, double n) {
  if (!empty()) {
    // Keep the used range within kMaxBuckets keys: fold the lowest keys (values nearest zero)
    // into the lowest key that still fits. Values below the window go to its bottom bucket.
    if (key > hi_ && int64_t{key} - lo_ + 1 > kMaxBuckets) {
      int32_t floor_key = key - kMaxBuckets + 1;
      double folded = 0;
      for (int32_t k = lo_; k <= std::min(hi_, floor_key - 1); ++k) {
        folded += at(k);
        counts_[static_cast<size_t>(k - offset_)] = 0;
      }
      if (floor_key > hi_) {
        lo_ = 0;  // everything folded: the used range restarts at floor_key below
        hi_ = -1;
      } else {
        lo_ = floor_key;
      }
      if (folded > 0) {
        reserve_for(floor_key);
        counts_[static_cast<size_t>(floor_key - offset_)] += folded;
        lo_ = empty() ? floor_key : std::min(lo_, floor_key);
        hi_ = empty() ? floor_key : std::max(hi_, floor_key);
      }
    } else if (key < lo_ && int64_t{hi_} - key + 1 > kMaxBuckets) {
      key = hi_ - kMaxBuckets + 1;
    }
  }
  reserve_for(key);
  counts_[static_cast<size_t>(key - offset_)] += n;
  if (empty()) {
    lo_ = hi_ = key;
  } else {
    lo_ = std::min(lo_, key);
    hi_ = std::max(hi_, key);
  }
}

size_t QuantileSketch::Store::nonzero() const {
  size_t n = 0;
  for (int32_t k = lo_; k <= hi_; ++k) n += at(k) > 0;
  return n;
}

// ---- QuantileSketch ----

int32_t QuantileSketch::key_of(double magnitude) {
  double k = std::ceil(std::log(magnitude) / kLogGamma);
  return static_cast<int32_t>(std::clamp(k, double{-kKeyLimit + 1}, double{kKeyLimit - 1}));
}

// The bucket (gamma^(k-1), gamma^k]'s point of least relative error to both edges.
double QuantileSketch::representative(int32_t key) { return 2 * std::exp(key * kLogGamma) / (kGamma + 1); }

void QuantileSketch::add(double value, double count) {
  if (!std::isfinite(value) || !std::isfinite(count) || !(count > 0)) return;
  if (value == 0) value = 0;  // folds -0.0 into +0.0
  if (empty()) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  total_ += count;
  if (value > 0) pos_.add(key_of(value), count);
  else if (value < 0) neg_.add(key_of(-value), count);
  else zero_ += count;
}

void QuantileSketch::merge(const QuantileSketch& other) {
  if (other.empty()) return;
  if (empty()) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  total_ += other.total_;
  zero_ += other.zero_;
  // Highest keys first: the first add extends the top, folding (if any) happens once.
  for (int32_t k = other.pos_.hi(); k >= other.pos_.lo(); --k) {
    double c = other.pos_.at(k);
    if (c > 0) pos_.add(k, c);
  }
  for (int32_t k = other.neg_.hi(); k >= other.neg_.lo(); --k) {
    double c = other.neg_.at(k);
    if (c > 0) neg_.add(k, c);
  }
}

size_t QuantileSketch::bucket_count() const { return pos_.nonzero() + neg_.nonzero() + (zero_ > 0 ? 1 : 0); }

double QuantileSketch::quantile(double q) const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  if (!(q > 0)) return min_;
  if (q >= 1) return max_;
  // The first bucket whose cumulative count passes the rank holds the value at that rank.
  double rank = q * (total_ - 1);
  double cumulative = 0, result = max_;
  for_each_bucket([&](double value, double count) {
    cumulative += count;
    if (cumulative > rank) {
      result = value;
      return false;
    }
    return true;
  });
  return result;
}

std::vector<QuantileSketch::Bucket> QuantileSketch::buckets() const {
  std::vector<Bucket> out;
  for_each_bucket([&](double value, double count) {
    out.push_back({value, count});
    return true;
  });
  return out;
}

// Layout:
//   version (1 byte) | flags (1 byte: bit0 zero count, bit1 positive store, bit2 negative store,
//   bits3-4 min tag, bits5-6 max tag where 3 = "equal to min", bit7 0)
//   when max == min (one distinct value): min, total count; the bucket is implied
//   otherwise: min, max, [zero count] [positive store] [negative store]
//   store = varint bucket count n | zigzag varint first key | count | (varint key delta | count) * (n-1)
void QuantileSketch::encode(std::string& out) const {
  out.push_back(static_cast<char>(kVersion));
  if (empty()) {
    out.push_back(0);
    return;
  }
  int min_tag = value_tag(min_);
  int max_tag = max_ == min_ ? kMaxSameAsMin : value_tag(max_);
  uint8_t flags = static_cast<uint8_t>((zero_ > 0 ? kHasZero : 0) | (pos_.empty() ? 0 : kHasPos) |
                                       (neg_.empty() ? 0 : kHasNeg) | (min_tag << kMinTagShift) |
                                       (max_tag << kMaxTagShift));
  if (max_tag == kMaxSameAsMin) {
    // One distinct value: its bucket is implied, so the value and count say everything.
    out.push_back(static_cast<char>((min_tag << kMinTagShift) | (max_tag << kMaxTagShift)));
    put_value(out, min_tag, min_);
    put_count(out, total_);
    return;
  }
  out.push_back(static_cast<char>(flags));
  put_value(out, min_tag, min_);
  put_value(out, max_tag, max_);
  if (zero_ > 0) put_count(out, zero_);
  for (const Store* store : {&pos_, &neg_}) {
    if (store->empty()) continue;
    append_varint(out, store->nonzero());
    int32_t prev = 0;
    bool first = true;
    for (int32_t k = store->lo(); k <= store->hi(); ++k) {
      double c = store->at(k);
      if (!(c > 0)) continue;
      if (first) append_varint(out, zigzag(k));
      else append_varint(out, static_cast<uint64_t>(k - prev));
      put_count(out, c);
      prev = k;
      first = false;
    }
  }
}

bool QuantileSketch::decode_store(std::string_view& in, Store& store, double& total) {
  uint64_t n;
  if (!get_varint(in, n) || n == 0 || n > static_cast<uint64_t>(kMaxBuckets)) return false;
  uint64_t z;
  if (!get_varint(in, z)) return false;
  int64_t first = unzigzag(z);
  if (first <= -kKeyLimit || first >= kKeyLimit) return false;
  int64_t key = first;
  for (uint64_t i = 0; i < n; ++i) {
    if (i > 0) {
      uint64_t delta;
      if (!get_varint(in, delta) || delta == 0 || delta >= static_cast<uint64_t>(kMaxBuckets)) return false;
      key += static_cast<int64_t>(delta);
      // The encoder never writes a range wider than kMaxBuckets; checking here also bounds
      // the dense array to kMaxBuckets (+ slack) doubles.
      if (key - first >= kMaxBuckets || key >= kKeyLimit) return false;
    }
    double c;
    if (!get_count(in, c)) return false;
    store.add(static_cast<int32_t>(key), c);
    total += c;
  }
  return true;
}

std::optional<QuantileSketch> QuantileSketch::decode(std::string_view& in) {
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kVersion) return std::nullopt;
  auto flags = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  QuantileSketch s;
  if (flags == 0) return s;
  if (flags & 0x80) return std::nullopt;
  int min_tag = (flags >> kMinTagShift) & 3, max_tag = (flags >> kMaxTagShift) & 3;
  if (max_tag == kMaxSameAsMin) {
    double value, count;
    if ((flags & (kHasZero | kHasPos | kHasNeg)) || !get_value(in, min_tag, value) || !get_count(in, count))
      return std::nullopt;
    s.add(value, count);
    return s;
  }
  if (!(flags & (kHasZero | kHasPos | kHasNeg))) return std::nullopt;
  if (!get_value(in, min_tag, s.min_) || !get_value(in, max_tag, s.max_)) return std::nullopt;
  if (s.min_ > s.max_) return std::nullopt;
  double total = 0;
  if (flags & kHasZero) {
    if (!get_count(in, s.zero_)) return std::nullopt;
    total += s.zero_;
  }
  if ((flags & kHasPos) && !decode_store(in, s.pos_, total)) return std::nullopt;
  if ((flags & kHasNeg) && !decode_store(in, s.neg_, total)) return std::nullopt;
  // Extremes must agree with which stores hold values.
  if ((flags & kHasNeg) ? !(s.min_ < 0) : s.min_ < 0) return std::nullopt;
  if ((flags & kHasPos) ? !(s.max_ > 0) : s.max_ > 0) return std::nullopt;
  if (!std::isfinite(total)) return std::nullopt;
  s.total_ = total;
  return s;
}

}  // namespace vigil::cloudwatch
