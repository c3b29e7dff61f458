#include "services/cloudwatch/dashboards.h"

#include "core/encoding.h"
#include "core/value.h"
#include "protocol/json_codec.h"

namespace vigil::cloudwatch {

namespace {

std::string dashboard_prefix(const std::string& account) {
  std::string k = "cw:d:";
  k += account;
  k.push_back('\0');
  return k;
}

std::optional<Dashboard> decode(std::string name, std::string_view json) {
  try {
    Value v = protocol::json_to_value(json, nullptr);
    return Dashboard{std::move(name), std::string(v.str("body")), v.f64("modified", 0)};
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

void DashboardStore::put(const std::string& account, const std::string& name, const std::string& body) {
  Value record = Value::map().set("body", body).set("modified", clock_.now_millis() / 1000.0);
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, dashboard_prefix(account) + name, protocol::value_to_json(record));
  store_.write(batch);
}

std::optional<Dashboard> DashboardStore::get(const std::string& account, const std::string& name) const {
  auto v = store_.get(store::Keyspace::Meta, dashboard_prefix(account) + name);
  if (!v) return std::nullopt;
  return decode(name, *v);
}

std::vector<Dashboard> DashboardStore::list(const std::string& account, const std::string& prefix, const std::string& after_name,
                                            size_t limit, bool* more) const {
  const std::string base = dashboard_prefix(account);
  std::string upper = base;
  upper.back() = '\x01';
  std::vector<Dashboard> out;
  *more = false;
  auto it = store_.iterate(store::Keyspace::Meta, base, upper);
  std::string start = base + (after_name.empty() ? prefix : std::max(after_name, prefix));
  for (it->seek(start); it->valid(); it->next()) {
    std::string name(it->key().substr(base.size()));
    if (!after_name.empty() && name == after_name) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) break;
    if (out.size() == limit) {
      *more = true;
      break;
    }
    if (auto d = decode(name, it->value())) out.push_back(std::move(*d));
  }
  return out;
}

std::vector<std::string> DashboardStore::erase(const std::string& account, const std::vector<std::string>& names) {
  std::vector<std::string> missing;
  for (const std::string& name : names)
    if (!store_.get(store::Keyspace::Meta, dashboard_prefix(account) + name)) missing.push_back(name);
  if (!missing.empty()) return missing;
  store::WriteBatch batch(store_);
  for (const std::string& name : names) batch.erase(store::Keyspace::Meta, dashboard_prefix(account) + name);
  store_.write(batch);
  return {};
}

}  // namespace vigil::cloudwatch
