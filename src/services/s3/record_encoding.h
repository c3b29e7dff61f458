// The binary form of S3's metadata records (buckets, objects, uploads, parts): big-endian
// integers, length-prefixed strings, doubles by their bits; plus the small key and ETag
// helpers both stores use. Shared by object_store.cpp and multipart.cpp; a Reader turns `ok`
// false on any truncation instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/encoding.h"

namespace vigil::s3::record {

inline void put_str(std::string& out, std::string_view s) {
  append_u64(out, s.size());
  out += s;
}
inline uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
inline double double_of(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool ok = true;
  uint64_t u64() {
    if (pos + 8 > in.size()) return ok = false, 0;
    uint64_t v = read_u64(in, pos);
    pos += 8;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    if (!ok || n > in.size() - pos) return ok = false, std::string();
    std::string s(in.substr(pos, n));
    pos += n;
    return s;
  }
};

// The smallest string greater than every string starting with `prefix` (empty: none).
inline std::string prefix_successor(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char c = static_cast<unsigned char>(prefix.back());
    if (c != 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// An entity tag as clients send it back: surrounding spaces and one pair of quotes dropped.
inline std::string unquote_etag(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

}  // namespace vigil::s3::record
