// A protocol-neutral value: what a request decodes to and what a handler answers.
//
// Every protocol codec (json, query, cbor, rest-json, rest-xml) turns wire bytes into a
// Value shaped by the service model, and a Value back into bytes. Handlers only ever see
// Values, never HTTP. Structures and maps are both ordered key/value vectors: they are small,
// and keeping insertion order makes responses deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vigil {

struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

struct Timestamp {
  double epoch_seconds = 0;  // double keeps microseconds for dates in this century
  bool operator==(const Timestamp&) const = default;
};

class Value {
 public:
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;
  enum class Kind : uint8_t { Null, Bool, Int, Double, String, Blob, Timestamp, List, Map };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : data_(b) {}
  Value(int v) : data_(int64_t{v}) {}
  Value(int64_t v) : data_(v) {}
  Value(uint64_t v) : data_(static_cast<int64_t>(v)) {}
  Value(double v) : data_(v) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(Blob b) : data_(std::move(b)) {}
  Value(Timestamp t) : data_(t) {}
  Value(List l) : data_(std::move(l)) {}
  Value(Map m) : data_(std::move(m)) {}

  static Value map() { return Value(Map{}); }
  static Value list() { return Value(List{}); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_null() const { return kind() == Kind::Null; }
  bool is_map() const { return kind() == Kind::Map; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_string() const { return kind() == Kind::String; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;      // Int, or a Double/Timestamp truncated
  double as_double() const;    // Double, Int or Timestamp
  const std::string& as_string() const { return std::get<std::string>(data_); }
  std::string& as_string() { return std::get<std::string>(data_); }
  const Blob& as_blob() const { return std::get<Blob>(data_); }
  Timestamp as_timestamp() const;
  const List& as_list() const { return std::get<List>(data_); }
  List& as_list() { return std::get<List>(data_); }
  const Map& as_map() const { return std::get<Map>(data_); }
  Map& as_map() { return std::get<Map>(data_); }

  // Structure/map access. get() returns nullptr when absent (or when this is not a map).
  const Value* get(std::string_view key) const;
  Value* get(std::string_view key);
  bool has(std::string_view key) const { return get(key) != nullptr; }
  // Typed reads with a default for absent members (wrong kinds cannot reach handlers: the
  // codec validated the request against the model).
  std::string_view str(std::string_view key, std::string_view fallback = {}) const;
  int64_t i64(std::string_view key, int64_t fallback) const;
  double f64(std::string_view key, double fallback) const;
  bool flag(std::string_view key, bool fallback) const;

  // Builders. set() replaces an existing key; both return *this for chaining.
  Value& set(std::string key, Value v);
  Value& push(Value v);
  size_t size() const;

  bool operator==(const Value&) const = default;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Blob, Timestamp, List, Map> data_;
};

}  // namespace vigil
