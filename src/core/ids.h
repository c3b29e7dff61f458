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
// Signed timestamps sort correctly after flipping the sign bit.
inline uint64_t order_i64(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
inline int64_t unorder_i64(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

}  // namespace vigil
