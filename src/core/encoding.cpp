#include "core/encoding.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace vigil {

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : in) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (c == '\n' || c == '\r') continue;
    if (padding) return std::nullopt;  // data after padding
    int v = b64_value(static_cast<unsigned char>(c));
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

namespace {
// Which bytes JSON strings must escape: control characters, '"' and '\\'. A table lookup per
// byte instead of three comparisons: every recorded API call escapes ~600 bytes.
constexpr std::array<bool, 256> kJsonEscaped = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  return t;
}();
}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  size_t run_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!kJsonEscaped[c]) continue;
    out.append(text.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(text.data() + run_start, text.size() - run_start);
  out += '"';
}

std::string json_escape(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out.substr(1, out.size() - 2);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#xD;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

static void split_time(double epoch_seconds, std::tm& tm, int& millis) {
  double whole = std::floor(epoch_seconds);
  millis = static_cast<int>(std::llround((epoch_seconds - whole) * 1000));
  if (millis >= 1000) {
    millis -= 1000;
    whole += 1;
  }
  time_t t = static_cast<time_t>(whole);
  gmtime_r(&t, &tm);
}

std::string format_iso8601(double epoch_seconds) {
  std::tm tm{};
  int millis = 0;
  split_time(epoch_seconds, tm, millis);
  const int year = tm.tm_year + 1900;
  if (year >= 0 && year <= 9999) {
    // Digits by hand: every audit record and most answers format a time (snprintf's format
    // parsing cost more than the rest of the record's fields together).
    std::string out(millis ? 24 : 20, '0');
    auto put = [&](size_t at, int value, int width) {
      for (int i = width - 1; i >= 0; --i, value /= 10) out[at + i] = static_cast<char>('0' + value % 10);
    };
    put(0, year, 4);
    out[4] = '-';
    put(5, tm.tm_mon + 1, 2);
    out[7] = '-';
    put(8, tm.tm_mday, 2);
    out[10] = 'T';
    put(11, tm.tm_hour, 2);
    out[13] = ':';
    put(14, tm.tm_min, 2);
    out[16] = ':';
    put(17, tm.tm_sec, 2);
    if (millis) {
      out[19] = '.';
      put(20, millis, 3);
    }
    out.back() = 'Z';
    return out;
  }
  char buf[96];  // room for any int the compiler cannot rule out
  if (millis)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string format_rfc822(double epoch_seconds) {
  std::tm tm{};
  int millis = 0;
  split_time(epoch_seconds, tm, millis);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<double> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]; also accepts a date alone.
  int Y, M, D, h = 0, m = 0, sec = 0;
  std::string text(s);
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &Y, &M, &D, &consumed) != 3) return std::nullopt;
  size_t pos = static_cast<size_t>(consumed);
  double fraction = 0;
  int offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    int n2 = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &m, &sec, &n2) != 3) return std::nullopt;
    pos += 1 + static_cast<size_t>(n2);
    if (pos < text.size() && text[pos] == '.') {
      size_t start = pos;
      ++pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
      fraction = std::strtod(text.substr(start, pos - start).c_str(), nullptr);
    }
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
      ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      int oh = 0, om = 0;
      int sign = text[pos] == '-' ? -1 : 1;
      if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &oh, &om) < 1) return std::nullopt;
      offset_seconds = sign * (oh * 3600 + om * 60);
      pos = text.size();
    }
  }
  if (pos != text.size()) return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<double>(timegm(&tm)) + fraction - offset_seconds;
}

std::optional<double> parse_rfc822(std::string_view s) {
  std::tm tm{};
  std::string text(s);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return static_cast<double>(timegm(&tm));
}

std::optional<double> parse_any_timestamp(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (auto v = parse_iso8601(s)) return v;
  if (auto v = parse_rfc822(s)) return v;
  std::string text(s);
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(d)) return d;
  return std::nullopt;
}

void append_epoch_number(std::string& out, double epoch_seconds) {
  char buf[40];
  if (epoch_seconds == std::floor(epoch_seconds) && std::fabs(epoch_seconds) < 1e15) {
    // The common case (whole seconds), thousands of times per GetMetricData answer: no printf,
    // no temporary string.
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(epoch_seconds));
    out.append(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
    return;
  }
  std::snprintf(buf, sizeof buf, "%.3f", epoch_seconds);
  // trim trailing zeros of the fraction
  size_t len = std::strlen(buf);
  while (len > 0 && buf[len - 1] == '0') --len;
  if (len > 0 && buf[len - 1] == '.') --len;
  out.append(buf, len);
}

std::string format_epoch_number(double epoch_seconds) {
  std::string out;
  append_epoch_number(out, epoch_seconds);
  return out;
}

}  // namespace vigil
