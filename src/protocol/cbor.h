// CBOR (RFC 8949) to and from Value, for the smithy rpc-v2-cbor protocol.
//
// Decoding accepts every well-formed item: all major types, definite and indefinite lengths,
// half/single/double floats, tags (tag 1, epoch time, becomes a Timestamp; other tags are
// transparent). It is iterative in bytes and recursive only in nesting, which is bounded;
// declared lengths are checked against the remaining input before anything is allocated,
// so a hostile item can neither over-read nor make the decoder allocate more than a small
// multiple of its input. Text strings must be valid UTF-8; map keys must be text strings
// (Value maps are keyed by strings).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/value.h"

namespace vigil::protocol::cbor {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DecodeOptions {
  int max_depth = 64;  // arrays, maps and tags nested deeper than this are rejected
};

// Whether `s` is valid UTF-8 as CBOR text strings must be (strict: no overlongs, surrogates or
// code points above U+10FFFF); `chars` receives its code points (validate_input's length).
// ASCII runs are checked 8 bytes at a time.
bool utf8_chars(std::string_view s, size_t& chars);

// Decodes exactly one data item that spans all of `bytes` (trailing bytes are an error).
// Unsigned integers above INT64_MAX and negative ones below INT64_MIN become Doubles;
// null and undefined become Null; unassigned simple values become Null.
Value decode(std::string_view bytes, const DecodeOptions& options = {});
// Decodes one data item from the front of `bytes`; `consumed` receives its length.
Value decode_prefix(std::string_view bytes, size_t& consumed, const DecodeOptions& options = {});

// Encodes a Value with the smallest heads: Int as major 0/1, Double as float64, String as
// text, Blob as bytes, Timestamp as tag 1 (integer seconds when whole, float64 otherwise),
// List as array, Map as map with text keys, Null as null.
void encode(const Value& value, std::string& out);
std::string encode(const Value& value);

// Low-level writer for codecs that encode from a shape (definite lengths only).
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void head(uint8_t major, uint64_t argument);
  void unsigned_int(uint64_t v) { head(0, v); }
  void signed_int(int64_t v);
  void text(std::string_view s);
  void bytes(std::string_view s);
  void array(uint64_t size) { head(4, size); }
  void map(uint64_t size) { head(5, size); }
  void tag(uint64_t t) { head(6, t); }
  void boolean(bool b) { out_ += static_cast<char>(b ? 0xf5 : 0xf4); }
  void null() { out_ += static_cast<char>(0xf6); }
  void float64(double d);
  void timestamp(double epoch_seconds);  // tag 1 + integer or float64
  std::string& out() { return out_; }

 private:
  std::string& out_;
};

// Half-precision bits to double (exposed for tests).
double half_to_double(uint16_t half);

}  // namespace vigil::protocol::cbor
