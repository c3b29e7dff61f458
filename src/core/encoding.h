// Small text encodings every protocol needs. Each runs in time linear in its input.
#pragma once

#include <cstdint>
#include <cstring>

#include <algorithm>
#include <bit>

#include <optional>
#include <string>
#include <string_view>

namespace vigil {

bool equals_ignore_case(std::string_view a, std::string_view b);  // ASCII letters only
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt if malformed
std::string hex_encode(std::string_view bytes);
std::string json_escape(std::string_view text);                 // without the quotes
void append_json_string(std::string& out, std::string_view text);  // with the quotes
std::string xml_escape(std::string_view text);
std::string percent_decode(std::string_view text, bool plus_is_space);
std::string percent_encode(std::string_view text, bool keep_slash);  // RFC 3986 unreserved kept

// Timestamps on the wire.
// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, what timegm counts
// (Howard Hinnant's algorithm; no tables, any year). Inline: timestamp parsers call it per value.
inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
std::string format_iso8601(double epoch_seconds);        // 2026-01-02T03:04:05.678Z (ms only if non-zero)
std::string format_rfc822(double epoch_seconds);         // Fri, 02 Jan 2026 03:04:05 GMT
std::optional<double> parse_iso8601(std::string_view text);
std::optional<double> parse_rfc822(std::string_view text);
std::optional<double> parse_any_timestamp(std::string_view text);  // iso8601, rfc822 or epoch number
std::string format_epoch_number(double epoch_seconds);
void append_epoch_number(std::string& out, double epoch_seconds);  // the same, appended   // shortest decimal, e.g. 1700000000.123

// Byte order (as std::string_view's <), 8 bytes at a time read as big-endian numbers. Posting
// items begin with an inverted time, so most pairs differ in the first word; records of one
// millisecond (hundreds under load) differ only in their event ids' random tail, words 3 to 5
// of a 44-byte item, and record keys share their scope's ~24 bytes: a memcmp call per
// comparison in the writer's sorts was its largest cost (perf, audit_history_bench).
static_assert(std::endian::native == std::endian::little, "bytes_less reads words with a byte swap");
inline bool bytes_less(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  size_t at = 0;
  for (; at + 8 <= common; at += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + at, 8);
    std::memcpy(&y, b.data() + at, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y);
  }
  return a.substr(at) < b.substr(at);
}

}  // namespace vigil
