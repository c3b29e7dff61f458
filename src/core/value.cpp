#include "core/value.h"

namespace vigil {

int64_t Value::as_int() const {
  switch (kind()) {
    case Kind::Int: return std::get<int64_t>(data_);
    case Kind::Double: return static_cast<int64_t>(std::get<double>(data_));
    case Kind::Timestamp: return static_cast<int64_t>(std::get<Timestamp>(data_).epoch_seconds);
    case Kind::Bool: return std::get<bool>(data_) ? 1 : 0;
    default: return 0;
  }
}

double Value::as_double() const {
  switch (kind()) {
    case Kind::Int: return static_cast<double>(std::get<int64_t>(data_));
    case Kind::Double: return std::get<double>(data_);
    case Kind::Timestamp: return std::get<Timestamp>(data_).epoch_seconds;
    default: return 0;
  }
}

Timestamp Value::as_timestamp() const {
  if (kind() == Kind::Timestamp) return std::get<Timestamp>(data_);
  return Timestamp{as_double()};
}

const Value* Value::get(std::string_view key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : as_map())
    if (k == key) return &v;
  return nullptr;
}

Value* Value::get(std::string_view key) {
  if (!is_map()) return nullptr;
  for (auto& [k, v] : as_map())
    if (k == key) return &v;
  return nullptr;
}

std::string_view Value::str(std::string_view key, std::string_view fallback) const {
  const Value* v = get(key);
  if (!v || !v->is_string()) return fallback;
  return v->as_string();
}

int64_t Value::i64(std::string_view key, int64_t fallback) const {
  const Value* v = get(key);
  if (!v || v->is_null()) return fallback;
  return v->as_int();
}

double Value::f64(std::string_view key, double fallback) const {
  const Value* v = get(key);
  if (!v || v->is_null()) return fallback;
  return v->as_double();
}

bool Value::flag(std::string_view key, bool fallback) const {
  const Value* v = get(key);
  if (!v || v->kind() != Kind::Bool) return fallback;
  return v->as_bool();
}

Value& Value::set(std::string key, Value v) {
  if (!is_map()) data_ = Map{};
  for (auto& [k, existing] : as_map()) {
    if (k == key) {
      existing = std::move(v);
      return *this;
    }
  }
  as_map().emplace_back(std::move(key), std::move(v));
  return *this;
}

Value& Value::push(Value v) {
  if (!is_list()) data_ = List{};
  as_list().push_back(std::move(v));
  return *this;
}

size_t Value::size() const {
  if (is_list()) return as_list().size();
  if (is_map()) return as_map().size();
  if (is_string()) return as_string().size();
  return 0;
}

}  // namespace vigil
