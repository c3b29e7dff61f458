// Identifiers: request ids, event ids, and the big-endian key encodings the store sorts by.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

std::string new_uuid();  // random v4, lower-case, 36 chars

// Appends v as 8 big-endian bytes, so byte order equals numeric order.
inline void append_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}
inline uint64_t read_u64(std::string_view in, size_t offset = 0) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}
// LEB128: 7 bits per byte, low first, the high bit set on all but the last byte.
inline void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
// Reads one at `at` and moves past it; false if `in` ends first or it overflows 64 bits.
inline bool read_varint(std::string_view in, size_t& at, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(in[at++]);
    if (shift == 63 && byte > 1) return false;
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}
// Signed integers as unsigned ones whose LEB128 stays short for small magnitudes.
inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Signed timestamps sort correctly after flipping the sign bit.
inline uint64_t order_i64(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
inline int64_t unorder_i64(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

}  // namespace vigil
