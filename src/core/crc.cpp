#include "core/crc.h"

#include <array>
#include <cstring>

namespace vigil {

namespace {

// Slicing-by-8 tables of a reflected CRC: tables[0] is the classic byte table, tables[k][b]
// the CRC of byte b followed by k zero bytes, so eight input bytes fold in with eight lookups.
template <typename T, T kReflectedPoly>
struct SlicingTables {
  std::array<std::array<T, 256>, 8> t{};
  constexpr SlicingTables() {
    for (unsigned b = 0; b < 256; ++b) {
      T crc = b;
      for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ kReflectedPoly : crc >> 1;
      t[0][b] = crc;
    }
    for (unsigned b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
};

template <typename T, T kReflectedPoly>
T reflected_crc(T crc, const void* data, size_t n) {
  static constexpr SlicingTables<T, kReflectedPoly> tables;
  const auto& t = tables.t;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (n >= 8) {
    // Little-endian load (x86 and ARM as deployed); the CRCs are defined on reflected bits.
    uint64_t word;
    std::memcpy(&word, p, 8);
    if constexpr (sizeof(T) == 4) {
      uint32_t lo = static_cast<uint32_t>(word) ^ crc, hi = static_cast<uint32_t>(word >> 32);
      crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
            t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    } else {
      uint64_t v = word ^ crc;
      crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^
            t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    }
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the slicing loads assume a little-endian host");

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t n) { return reflected_crc<uint32_t, 0x82F63B78u>(crc, data, n); }

uint64_t crc64nvme(uint64_t crc, const void* data, size_t n) { return reflected_crc<uint64_t, 0x9A6C9329AC4BC9B5ull>(crc, data, n); }

}  // namespace vigil
