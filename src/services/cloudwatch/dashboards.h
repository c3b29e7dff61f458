// CloudWatch dashboards: bodies stored per account (dashboards are global, not regional).
// Keys (Keyspace::Meta): "cw:d:" account \0 name -> {"body":..., "modified": epoch s}.
// Cost: put/get/delete are one key each; list is a prefix scan of the account's dashboards.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace vigil::cloudwatch {

struct Dashboard {
  std::string name, body;
  double modified = 0;  // epoch seconds
};

class DashboardStore {
 public:
  DashboardStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  void put(const std::string& account, const std::string& name, const std::string& body);
  std::optional<Dashboard> get(const std::string& account, const std::string& name) const;
  // Names starting with `prefix`, in name order, after `after_name`, at most `limit`.
  std::vector<Dashboard> list(const std::string& account, const std::string& prefix, const std::string& after_name, size_t limit,
                              bool* more) const;
  // Deletes all or none: returns the names that do not exist (nothing deleted then).
  std::vector<std::string> erase(const std::string& account, const std::vector<std::string>& names);

 private:
  store::Store& store_;
  const Clock& clock_;
};

}  // namespace vigil::cloudwatch
