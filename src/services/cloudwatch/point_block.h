// A compact, lossless block of one series' points at one resolution over one time range (the
// MetricStore packs settled points into one such record per series, resolution and day).
//
// Layout (varints are LEB128, zigzag for signed):
//   version (1) = 1, n (varint)
//   bucket offsets, in resolution units from the block start: first offset, then runs of equal
//     deltas as (delta, run length) pairs: a steady series costs ~3 bytes for the whole block
//   units: runs of (unit byte, run length)
//   kinds: alternating run lengths, starting with "simple" points (count 1, so sum = min = max
//     = the value and the percentile sketch is implied) then "full" points, and so on
//   simple values: mode (1) then
//     0/1: decimal-scaled integers (value * 10^k, k <= 9, checked to decode bit-exactly):
//          k (1), the first integer (zigzag varint), [mode 1: the first delta], then the deltas
//          (mode 0) or deltas of deltas (mode 1, for counters) zigzagged and bit-packed in
//          groups of 32, each group prefixed by its 7-bit width
//     2:   Gorilla-style XOR with the previous value's bits, byte-granular (any double)
//   full points: each as varint length + Aggregate::encode()
// One value per minute of a gauge with a few decimals costs about one byte per point before
// RocksDB's own compression.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "services/cloudwatch/metric_store.h"

namespace vigil::cloudwatch {

struct BlockPoint {
  int64_t bucket_s = 0;  // bucket start, epoch seconds, a multiple of the resolution
  uint8_t unit = 0;
  Aggregate aggregate;
};

// points: sorted by (bucket_s, unit), unique, each bucket_s >= block_start_s and aligned.
std::string encode_point_block(int64_t block_start_s, int64_t resolution_s, const std::vector<BlockPoint>& points);
// A decoded block as parallel arrays, for readers that fold values without building one
// Aggregate per point: full[i] < 0 means a simple point (count 1) whose value is value[i];
// otherwise full_aggregates[full[i]] is the point's aggregate.
struct DecodedBlock {
  std::vector<int64_t> bucket_s;
  std::vector<uint8_t> unit;
  std::vector<double> value;
  std::vector<int32_t> full;
  std::vector<Aggregate> full_aggregates;
  size_t size() const { return bucket_s.size(); }
};
bool decode_point_block(std::string_view bytes, int64_t block_start_s, int64_t resolution_s, DecodedBlock& out);
// Appends the block's points to `out`; false (out unspecified) if the bytes are malformed.
bool decode_point_block(std::string_view bytes, int64_t block_start_s, int64_t resolution_s, std::vector<BlockPoint>& out);

}  // namespace vigil::cloudwatch
