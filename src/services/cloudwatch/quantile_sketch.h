// A mergeable relative-error quantile sketch (DDSketch-style) for CloudWatch's percentile-family
// statistics (pNN, TM, WM, TC, TS, PR, IQM).
//
// Why this shape: CloudWatch stores one Aggregate per (series, bucket) and merges buckets at
// query time, so percentiles need a summary that merges exactly (bucket counts add) and whose
// error does not grow with merging. Logarithmic buckets give that: a value v lands in bucket
// k = ceil(log_gamma |v|), and the bucket's representative is within kRelativeAccuracy of every
// value in it, whatever the distribution or the number of merges.
//
// Layout: separate stores for positive and negative values (negatives keyed by |v|) plus a zero
// count. Each store is a dense array over its used key range, at most kMaxBuckets keys wide;
// beyond that the lowest keys (values nearest zero) are folded together, which bounds memory
// (~16 KiB per sign worst case) and only costs accuracy at the small-magnitude end.
// The exact min and max are tracked so p0/p100 and the extreme buckets are exact.
//
// Encoding (see encode()): a version byte, a flags byte, min/max (compact), then each store as
// varint key deltas + counts (integer counts as varints). A sketch of one distinct value is
// just the value and its count: 5 bytes for a small integer, 11 for an arbitrary double.
// Full accuracy holds while each sign's nonzero magnitudes span a ratio below
// gamma^kMaxBuckets (~2^58, ~3e17); wider data loses accuracy only at its smallest magnitudes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::cloudwatch {

class QuantileSketch {
 public:
  // Slightly under 1% so that floating-point fuzz at bucket edges still leaves results within
  // the promised 1% of the true quantile.
  static constexpr double kRelativeAccuracy = 0.0099;
  static constexpr int32_t kMaxBuckets = 2048;  // per sign
  static constexpr uint8_t kVersion = 1;

  struct Bucket {
    double value;  // representative, clamped to [min(), max()]
    double count;
    bool operator==(const Bucket&) const = default;
  };

  // Cost: O(1) amortized (one log, one array slot; the array grows geometrically, and folding
  // of low buckets happens at most once per key). Non-finite values and counts <= 0 or
  // non-finite are ignored (the caller validated them already).
  void add(double value, double count = 1);
  // Cost: O(buckets of other).
  void merge(const QuantileSketch& other);

  double total_count() const { return total_; }
  bool empty() const { return !(total_ > 0); }
  // Exact extremes of the added values; 0 when empty.
  double min() const { return min_; }
  double max() const { return max_; }
  // Non-empty buckets (zero counted as one).
  size_t bucket_count() const;

  // The value at rank q*(total-1) in value order (q in [0,1]), within kRelativeAccuracy of the
  // true value at that rank; q<=0 gives min(), q>=1 max(). NaN when empty. Cost: O(buckets).
  double quantile(double q) const;

  // Visits non-empty buckets in increasing value order; f(value, count) returns false to stop.
  // Cost: O(key range) <= O(2 * kMaxBuckets).
  template <class F>
  void for_each_bucket(F&& f) const {
    for (int32_t k = neg_.hi(); k >= neg_.lo(); --k) {
      double c = neg_.at(k);
      if (c > 0 && !f(clamp(-representative(k)), c)) return;
    }
    if (zero_ > 0 && !f(clamp(0.0), zero_)) return;
    for (int32_t k = pos_.lo(); k <= pos_.hi(); ++k) {
      double c = pos_.at(k);
      if (c > 0 && !f(clamp(representative(k)), c)) return;
    }
  }
  std::vector<Bucket> buckets() const;

  // Appends the versioned binary form. Cost: O(key range).
  void encode(std::string& out) const;
  // Consumes one encoded sketch from the front of `in`; nullopt (and `in` unspecified) on
  // anything malformed. Allocation is bounded by kMaxBuckets per sign whatever the input.
  static std::optional<QuantileSketch> decode(std::string_view& in);

 private:
  // Dense counts over a key range; keys outside [offset_, offset_ + size) are zero.
  class Store {
   public:
    bool empty() const { return hi_ < lo_; }
    int32_t lo() const { return lo_; }
    int32_t hi() const { return hi_; }
    double at(int32_t k) const {
      int64_t i = int64_t{k} - offset_;
      return i >= 0 && i < static_cast<int64_t>(counts_.size()) ? counts_[static_cast<size_t>(i)] : 0;
    }
    void add(int32_t key, double n);
    size_t nonzero() const;

   private:
    void reserve_for(int32_t key);
    std::vector<double> counts_;
    int32_t offset_ = 0;
    int32_t lo_ = 0, hi_ = -1;  // used range, inclusive; empty when hi_ < lo_
  };

  static int32_t key_of(double magnitude);
  static double representative(int32_t key);
  double clamp(double v) const { return v < min_ ? min_ : (v > max_ ? max_ : v); }
  static bool decode_store(std::string_view& in, Store& store, double& total);

  Store pos_, neg_;
  double zero_ = 0;
  double total_ = 0;
  double min_ = 0, max_ = 0;
};

}  // namespace vigil::cloudwatch
