#include "core/ids.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace vigil {

std::string new_uuid() {
  // OpenSSL's RAND_bytes costs microseconds per call (DRBG locking and reseed checks), and
  // every API call takes two ids: draw 64 ids' worth per call into a per-thread pool instead.
  // Still CSPRNG bytes, each used once.
  thread_local unsigned char pool[1024];
  thread_local size_t used = sizeof pool;
  if (used == sizeof pool) {
    if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
    used = 0;
  }
  unsigned char b[16];
  std::memcpy(b, pool + used, sizeof b);
  std::memset(pool + used, 0, sizeof b);
  used += sizeof b;
  b[6] = (b[6] & 0x0F) | 0x40;
  b[8] = (b[8] & 0x3F) | 0x80;
  // Hex by table, not snprintf with 16 arguments: two of these per API call (request and
  // event ids).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // the dashes
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0x0F];
  }
  return out;
}

}  // namespace vigil
