#include "protocol/cbor.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace vigil::protocol::cbor {

namespace {

constexpr uint8_t kBreak = 0xff;
constexpr uint64_t kIndefinite = ~uint64_t{0};


class Reader {
 public:
  Reader(std::string_view bytes, const DecodeOptions& options)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), begin_(p_), end_(p_ + bytes.size()), options_(options) {}

  Value item(int depth) {
    uint8_t initial = byte();
    uint8_t major = initial >> 5;
    uint8_t info = initial & 0x1f;
    switch (major) {
      case 0: {
        uint64_t v = argument(info, false);
        if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(v));
        return Value(static_cast<double>(v));
      }
      case 1: {
        uint64_t n = argument(info, false);
        if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(-1 - static_cast<int64_t>(n));
        return Value(-1.0 - static_cast<double>(n));
      }
      case 2: return Value(Blob{string_body(major, info)});
      case 3: {
        std::string s = string_body(major, info);
        if (size_t chars; !utf8_chars(s, chars)) fail("text string is not valid UTF-8");
        return Value(std::move(s));
      }
      case 4: {
        enter(depth);
        uint64_t n = argument(info, true);
        Value out = Value::list();
        auto& list = out.as_list();
        if (n == kIndefinite) {
          while (!at_break()) list.push_back(item(depth + 1));
          ++p_;
        } else {
          if (n > remaining()) fail("array length exceeds the input");
          list.reserve(static_cast<size_t>(n));
          for (uint64_t i = 0; i < n; ++i) list.push_back(item(depth + 1));
        }
        return out;
      }
      case 5: {
        enter(depth);
        uint64_t n = argument(info, true);
        Value out = Value::map();
        auto& map = out.as_map();
        if (n == kIndefinite) {
          while (!at_break()) pair(map, depth);
          ++p_;
        } else {
          if (n > remaining() / 2) fail("map length exceeds the input");
          map.reserve(static_cast<size_t>(n));
          for (uint64_t i = 0; i < n; ++i) pair(map, depth);
        }
        return out;
      }
      case 6: {
        enter(depth);
        uint64_t tag = argument(info, false);
        Value inner = item(depth + 1);
        if (tag == 1) {
          if (inner.kind() != Value::Kind::Int && inner.kind() != Value::Kind::Double) fail("tag 1 (epoch time) must wrap a number");
          double t = inner.as_double();
          if (!std::isfinite(t)) fail("tag 1 (epoch time) must be finite");
          return Value(Timestamp{t});
        }
        return inner;  // other tags are transparent
      }
      default: return simple(info);
    }
  }

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  bool done() const { return p_ == end_; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw DecodeError("CBOR: " + what + " at offset " + std::to_string(offset())); }

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  void enter(int depth) const {
    if (depth >= options_.max_depth) fail("nesting deeper than " + std::to_string(options_.max_depth));
  }

  uint8_t byte() {
    if (p_ == end_) fail("unexpected end of input");
    return *p_++;
  }

  uint64_t big_endian(size_t n) {
    if (remaining() < n) fail("unexpected end of input");
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p_[i];
    p_ += n;
    return v;
  }

  uint64_t argument(uint8_t info, bool indefinite_allowed) {
    if (info < 24) return info;
    switch (info) {
      case 24: return big_endian(1);
      case 25: return big_endian(2);
      case 26: return big_endian(4);
      case 27: return big_endian(8);
      case 31:
        if (indefinite_allowed) return kIndefinite;
        fail("indefinite length not allowed here");
      default: fail("reserved additional information " + std::to_string(info));
    }
  }

  bool at_break() {
    if (p_ == end_) fail("unexpected end of input in indefinite-length item");
    return *p_ == kBreak;
  }

  std::string string_body(uint8_t major, uint8_t info) {
    uint64_t n = argument(info, true);
    if (n != kIndefinite) {
      if (n > remaining()) fail("string length exceeds the input");
      std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
      p_ += n;
      return s;
    }
    std::string s;
    while (!at_break()) {
      uint8_t initial = byte();
      if ((initial >> 5) != major || (initial & 0x1f) == 31) fail("indefinite string chunk of the wrong type");
      uint64_t len = argument(initial & 0x1f, false);
      if (len > remaining()) fail("string chunk length exceeds the input");
      s.append(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
      p_ += len;
    }
    ++p_;
    return s;
  }

  void pair(Value::Map& map, int depth) {
    Value key = item(depth + 1);
    if (!key.is_string()) fail("map key is not a text string");
    Value value = item(depth + 1);
    map.emplace_back(std::move(key.as_string()), std::move(value));
  }

  Value simple(uint8_t info) {
    switch (info) {
      case 20: return Value(false);
      case 21: return Value(true);
      case 22:
      case 23: return Value();
      case 24: {
        uint8_t v = static_cast<uint8_t>(big_endian(1));
        if (v < 32) fail("simple value encoded in two bytes below 32");
        return Value();
      }
      case 25: return Value(half_to_double(static_cast<uint16_t>(big_endian(2))));
      case 26: {
        uint32_t bits = static_cast<uint32_t>(big_endian(4));
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return Value(static_cast<double>(f));
      }
      case 27: {
        uint64_t bits = big_endian(8);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return Value(d);
      }
      case 31: fail("unexpected break");
      default:
        if (info < 20) return Value();  // unassigned simple values
        fail("reserved additional information " + std::to_string(info));
    }
  }

  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  const DecodeOptions& options_;
};

}  // namespace

bool utf8_chars(std::string_view s, size_t& chars) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  const uint8_t* start = p;
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (word & 0x8080808080808080ULL) break;
    p += 8;
  }
  size_t n_chars = static_cast<size_t>(p - start);
  while (p < end) {
    uint8_t c = *p;
    ++n_chars;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;  // overlong
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  chars = n_chars;
  return true;
}

double half_to_double(uint16_t half) {
  int exponent = (half >> 10) & 0x1f;
  int mantissa = half & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent != 31) {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  } else {
    value = mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  }
  return (half & 0x8000) ? -value : value;
}

Value decode_prefix(std::string_view bytes, size_t& consumed, const DecodeOptions& options) {
  Reader reader(bytes, options);
  Value v = reader.item(0);
  consumed = reader.offset();
  return v;
}

Value decode(std::string_view bytes, const DecodeOptions& options) {
  Reader reader(bytes, options);
  Value v = reader.item(0);
  if (!reader.done()) throw DecodeError("CBOR: trailing bytes after the data item at offset " + std::to_string(reader.offset()));
  return v;
}

void Writer::head(uint8_t major, uint64_t argument) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (argument < 24) {
    out_ += static_cast<char>(m | argument);
    return;
  }
  int n;
  uint8_t info;
  if (argument <= 0xff) {
    n = 1;
    info = 24;
  } else if (argument <= 0xffff) {
    n = 2;
    info = 25;
  } else if (argument <= 0xffffffffULL) {
    n = 4;
    info = 26;
  } else {
    n = 8;
    info = 27;
  }
  out_ += static_cast<char>(m | info);
  for (int i = n - 1; i >= 0; --i) out_ += static_cast<char>((argument >> (8 * i)) & 0xff);
}

void Writer::signed_int(int64_t v) {
  if (v >= 0) {
    head(0, static_cast<uint64_t>(v));
  } else {
    head(1, static_cast<uint64_t>(-1 - v));
  }
}

void Writer::text(std::string_view s) {
  head(3, s.size());
  out_.append(s);
}

void Writer::bytes(std::string_view s) {
  head(2, s.size());
  out_.append(s);
}

void Writer::float64(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  out_ += static_cast<char>(0xfb);
  for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
}

void Writer::timestamp(double epoch_seconds) {
  tag(1);
  if (std::isfinite(epoch_seconds) && epoch_seconds == std::floor(epoch_seconds) && std::fabs(epoch_seconds) < 9.0e15) {
    signed_int(static_cast<int64_t>(epoch_seconds));
  } else {
    float64(epoch_seconds);
  }
}

namespace {
void encode_into(const Value& v, Writer& w, int depth) {
  if (depth > 200) throw std::runtime_error("CBOR: value nested too deeply to encode");
  switch (v.kind()) {
    case Value::Kind::Null: w.null(); return;
    case Value::Kind::Bool: w.boolean(v.as_bool()); return;
    case Value::Kind::Int: w.signed_int(v.as_int()); return;
    case Value::Kind::Double: w.float64(v.as_double()); return;
    case Value::Kind::String: w.text(v.as_string()); return;
    case Value::Kind::Blob: w.bytes(v.as_blob().bytes); return;
    case Value::Kind::Timestamp: w.timestamp(v.as_double()); return;
    case Value::Kind::List:
      w.array(v.as_list().size());
      for (const auto& item : v.as_list()) encode_into(item, w, depth + 1);
      return;
    case Value::Kind::Map:
      w.map(v.as_map().size());
      for (const auto& [k, item] : v.as_map()) {
        w.text(k);
        encode_into(item, w, depth + 1);
      }
      return;
  }
}
}  // namespace

void encode(const Value& value, std::string& out) {
  Writer w(out);
  encode_into(value, w, 0);
}

std::string encode(const Value& value) {
  std::string out;
  encode(value, out);
  return out;
}

}  // namespace vigil::protocol::cbor
