#include "services/cloudwatch/point_block.h"

#include "core/ids.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vigil::cloudwatch {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kGroup = 32;
constexpr int kMaxScale = 9;

uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
double double_of(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}
int width_of(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

const double kPow10[kMaxScale + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool varint(uint64_t& v) { return read_varint(in_, pos_, v); }
  bool byte(uint8_t& b) {
    if (pos_ >= in_.size()) return false;
    b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool bytes(size_t n, std::string_view& out) {
    if (in_.size() - pos_ < n) return false;
    out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  void skip_to(size_t pos) { pos_ = pos; }
  std::string_view data() const { return in_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

class BitWriter {
 public:
  explicit BitWriter(std::string& out) : out_(out) {}
  void put(uint64_t v, int w) {
    if (w > 32) {
      put(v & 0xffffffffULL, 32);
      put(v >> 32, w - 32);
      return;
    }
    if (w == 0) return;
    acc_ |= (v & ((uint64_t{1} << w) - 1)) << n_;
    n_ += w;
    while (n_ >= 8) {
      out_.push_back(static_cast<char>(acc_ & 0xff));
      acc_ >>= 8;
      n_ -= 8;
    }
  }
  void flush() {
    if (n_ > 0) out_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ = 0;
    n_ = 0;
  }

 private:
  std::string& out_;
  uint64_t acc_ = 0;
  int n_ = 0;
};

class BitReader {
 public:
  BitReader(std::string_view in, size_t pos) : in_(in), pos_(pos) {}
  bool get(int w, uint64_t& v) {
    if (w > 32) {
      uint64_t lo, hi;
      if (!get(32, lo) || !get(w - 32, hi)) return false;
      v = lo | (hi << 32);
      return true;
    }
    while (n_ < w) {
      if (pos_ >= in_.size()) return false;
      acc_ |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << n_;
      n_ += 8;
    }
    v = w == 0 ? 0 : acc_ & ((uint64_t{1} << w) - 1);
    acc_ = w == 64 ? 0 : acc_ >> w;
    n_ -= w;
    return true;
  }
  size_t end_pos() const { return pos_; }  // partial trailing byte already consumed

 private:
  std::string_view in_;
  size_t pos_;
  uint64_t acc_ = 0;
  int n_ = 0;
};

size_t packed_bits(const std::vector<uint64_t>& v) {
  size_t bits = 0;
  for (size_t i = 0; i < v.size(); i += kGroup) {
    size_t end = std::min(v.size(), i + kGroup);
    int w = 0;
    for (size_t j = i; j < end; ++j) w = std::max(w, width_of(v[j]));
    bits += 7 + static_cast<size_t>(w) * (end - i);
  }
  return bits;
}

void pack(std::string& out, const std::vector<uint64_t>& v) {
  BitWriter bits(out);
  for (size_t i = 0; i < v.size(); i += kGroup) {
    size_t end = std::min(v.size(), i + kGroup);
    int w = 0;
    for (size_t j = i; j < end; ++j) w = std::max(w, width_of(v[j]));
    bits.put(static_cast<uint64_t>(w), 7);
    for (size_t j = i; j < end; ++j) bits.put(v[j], w);
  }
  bits.flush();
}

bool unpack(Reader& r, size_t n, std::vector<uint64_t>& v) {
  BitReader bits(r.data(), r.pos());
  v.resize(n);
  for (size_t i = 0; i < n; i += kGroup) {
    size_t end = std::min(n, i + kGroup);
    uint64_t w;
    if (!bits.get(7, w) || w > 64) return false;
    for (size_t j = i; j < end; ++j)
      if (!bits.get(static_cast<int>(w), v[j])) return false;
  }
  r.skip_to(bits.end_pos());
  return true;
}

bool is_simple(const Aggregate& a) {
  return a.count == 1 && bits_of(a.min) == bits_of(a.max) && bits_of(a.sum) == bits_of(a.min) &&
         a.sketch.total_count() == 1;
}

// The smallest k with every value == llround(value * 10^k) / 10^k bit for bit, or -1.
int decimal_scale(const std::vector<double>& values, std::vector<int64_t>& scaled) {
  for (int k = 0; k <= kMaxScale; ++k) {
    scaled.clear();
    bool ok = true;
    for (double v : values) {
      double x = v * kPow10[k];
      if (!(std::fabs(x) < 9007199254740992.0)) {  // 2^53; also rejects NaN
        ok = false;
        break;
      }
      int64_t r = std::llround(x);
      if (bits_of(static_cast<double>(r) / kPow10[k]) != bits_of(v)) {
        ok = false;
        break;
      }
      scaled.push_back(r);
    }
    if (ok) return k;
  }
  return -1;
}

void encode_values(std::string& out, const std::vector<double>& values) {
  std::vector<int64_t> scaled;
  int k = decimal_scale(values, scaled);
  if (k < 0) {
    out.push_back(2);
    uint64_t prev = 0;
    for (double v : values) {
      uint64_t x = bits_of(v) ^ prev;
      prev = bits_of(v);
      if (x == 0) {
        out.push_back(0);
        continue;
      }
      int lz = __builtin_clzll(x) / 8, tz = __builtin_ctzll(x) / 8;
      out.push_back(static_cast<char>(0x80 | (lz << 3) | tz));
      for (int b = 7 - lz; b >= tz; --b) out.push_back(static_cast<char>((x >> (b * 8)) & 0xff));
    }
    return;
  }
  std::vector<uint64_t> deltas, dods;
  for (size_t i = 1; i < scaled.size(); ++i) deltas.push_back(zigzag(scaled[i] - scaled[i - 1]));
  for (size_t i = 2; i < scaled.size(); ++i)
    dods.push_back(zigzag((scaled[i] - scaled[i - 1]) - (scaled[i - 1] - scaled[i - 2])));
  const bool use_dod = scaled.size() > 2 && packed_bits(dods) + 8 * 3 < packed_bits(deltas);
  out.push_back(use_dod ? 1 : 0);
  out.push_back(static_cast<char>(k));
  append_varint(out, zigzag(scaled[0]));
  if (use_dod) {
    append_varint(out, zigzag(scaled[1] - scaled[0]));
    pack(out, dods);
  } else {
    pack(out, deltas);
  }
}

bool decode_values(Reader& r, size_t n, std::vector<double>& values) {
  values.clear();
  if (n == 0) return true;
  uint8_t mode;
  if (!r.byte(mode)) return false;
  if (mode == 2) {
    uint64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
      uint8_t h;
      if (!r.byte(h)) return false;
      uint64_t x = 0;
      if (h != 0) {
        if (!(h & 0x80)) return false;
        int lz = (h >> 3) & 7, tz = h & 7;
        if (lz + tz > 7) return false;
        for (int b = 7 - lz; b >= tz; --b) {
          uint8_t byte;
          if (!r.byte(byte)) return false;
          x |= static_cast<uint64_t>(byte) << (b * 8);
        }
      }
      prev ^= x;
      values.push_back(double_of(prev));
    }
    return true;
  }
  if (mode > 1) return false;
  uint8_t k;
  uint64_t first;
  if (!r.byte(k) || k > kMaxScale || !r.varint(first)) return false;
  std::vector<int64_t> scaled{unzigzag(first)};
  std::vector<uint64_t> packed;
  if (mode == 1 && n > 1) {
    uint64_t d;
    if (!r.varint(d)) return false;
    int64_t delta = unzigzag(d);
    scaled.push_back(scaled[0] + delta);
    if (!unpack(r, n - 2, packed)) return false;
    for (uint64_t p : packed) {
      delta += unzigzag(p);
      scaled.push_back(scaled.back() + delta);
    }
  } else {
    if (!unpack(r, n - 1, packed)) return false;
    for (uint64_t p : packed) scaled.push_back(scaled.back() + unzigzag(p));
  }
  for (int64_t s : scaled) values.push_back(static_cast<double>(s) / kPow10[k]);
  return true;
}

bool read_runs(Reader& r, size_t n, std::vector<uint64_t>& runs) {
  size_t covered = 0;
  runs.clear();
  while (covered < n) {
    uint64_t run;
    if (!r.varint(run) || run > n - covered) return false;
    runs.push_back(run);
    covered += run;
  }
  return true;
}

}  // namespace

std::string encode_point_block(int64_t block_start_s, int64_t resolution_s, const std::vector<BlockPoint>& points) {
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  const size_t n = points.size();
  append_varint(out, n);
  if (n == 0) return out;
  // Bucket offsets as runs of equal deltas.
  append_varint(out, static_cast<uint64_t>((points[0].bucket_s - block_start_s) / resolution_s));
  for (size_t i = 1; i < n;) {
    uint64_t delta = static_cast<uint64_t>((points[i].bucket_s - points[i - 1].bucket_s) / resolution_s);
    size_t j = i + 1;
    while (j < n && static_cast<uint64_t>((points[j].bucket_s - points[j - 1].bucket_s) / resolution_s) == delta) ++j;
    append_varint(out, delta);
    append_varint(out, j - i);
    i = j;
  }
  // Units as runs.
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && points[j].unit == points[i].unit) ++j;
    out.push_back(static_cast<char>(points[i].unit));
    append_varint(out, j - i);
    i = j;
  }
  // Kinds as alternating runs, simple first.
  std::vector<double> simple_values;
  bool simple = true;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && is_simple(points[j].aggregate) == simple) ++j;
    append_varint(out, j - i);
    if (simple)
      for (size_t p = i; p < j; ++p) simple_values.push_back(points[p].aggregate.min);
    simple = !simple;
    i = j;
  }
  if (!simple_values.empty()) encode_values(out, simple_values);
  for (const BlockPoint& p : points) {
    if (is_simple(p.aggregate)) continue;
    std::string full = p.aggregate.encode();
    append_varint(out, full.size());
    out += full;
  }
  return out;
}

bool decode_point_block(std::string_view bytes, int64_t block_start_s, int64_t resolution_s, DecodedBlock& out) {
  out.bucket_s.clear();
  out.unit.clear();
  out.value.clear();
  out.full.clear();
  out.full_aggregates.clear();
  Reader r(bytes);
  uint8_t version;
  uint64_t n64;
  if (!r.byte(version) || version != kVersion || !r.varint(n64) || n64 > bytes.size() * 8 + 1) return false;
  const size_t n = static_cast<size_t>(n64);
  if (n == 0) return r.pos() == bytes.size();
  std::vector<int64_t>& buckets = out.bucket_s;
  buckets.reserve(n);
  uint64_t first;
  if (!r.varint(first) || first > (uint64_t{1} << 40)) return false;
  int64_t offset = static_cast<int64_t>(first);
  buckets.push_back(block_start_s + offset * resolution_s);
  while (buckets.size() < n) {
    uint64_t delta, run;
    if (!r.varint(delta) || !r.varint(run) || run == 0 || run > n - buckets.size() || delta > (uint64_t{1} << 40))
      return false;
    for (uint64_t i = 0; i < run; ++i) {
      offset += static_cast<int64_t>(delta);
      buckets.push_back(block_start_s + offset * resolution_s);
    }
  }
  out.unit.reserve(n);
  while (out.unit.size() < n) {
    uint8_t unit;
    uint64_t run;
    if (!r.byte(unit) || !r.varint(run) || run == 0 || run > n - out.unit.size()) return false;
    out.unit.insert(out.unit.end(), run, unit);
  }
  std::vector<uint64_t> runs;
  if (!read_runs(r, n, runs)) return false;
  out.full.reserve(n);
  size_t simple_count = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    out.full.insert(out.full.end(), runs[i], i % 2 == 0 ? -1 : 0);
    if (i % 2 == 0) simple_count += runs[i];
  }
  std::vector<double> simple_values;
  if (!decode_values(r, simple_count, simple_values) || simple_values.size() != simple_count) return false;
  out.value.assign(n, 0);
  size_t next_simple = 0;
  for (size_t i = 0; i < n; ++i) {
    if (out.full[i] < 0) {
      out.value[i] = simple_values[next_simple++];
      continue;
    }
    uint64_t len;
    std::string_view bytes_of_full;
    if (!r.varint(len) || !r.bytes(len, bytes_of_full)) return false;
    std::optional<Aggregate> a = Aggregate::decode(bytes_of_full);
    if (!a) return false;
    out.full[i] = static_cast<int32_t>(out.full_aggregates.size());
    out.full_aggregates.push_back(std::move(*a));
  }
  return r.pos() == bytes.size();
}

bool decode_point_block(std::string_view bytes, int64_t block_start_s, int64_t resolution_s, std::vector<BlockPoint>& out) {
  DecodedBlock block;
  if (!decode_point_block(bytes, block_start_s, resolution_s, block)) return false;
  out.reserve(out.size() + block.size());
  for (size_t i = 0; i < block.size(); ++i) {
    BlockPoint p;
    p.bucket_s = block.bucket_s[i];
    p.unit = block.unit[i];
    if (block.full[i] < 0)
      p.aggregate.add(block.value[i]);
    else
      p.aggregate = std::move(block.full_aggregates[static_cast<size_t>(block.full[i])]);
    out.push_back(std::move(p));
  }
  return true;
}

}  // namespace vigil::cloudwatch
