// libFuzzer target for cloudtrail/lake_sql: rewrites the input as a CloudTrail Lake statement
// (every FROM target resolves, except one named "missing" which throws as an unknown store
// would) and checks what the rewrite promises: it either throws LakeSqlError / the resolver's
// error or returns a statement; the rewrite is deterministic; every target came from the
// resolver; every eds_<n> it wrote names a target. Also round-trips Lake timestamps through
// parse_lake_time/format_lake_time. Work per input is linear in its size (at most 10,000
// bytes, the model's QueryStatement limit).
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "services/cloudtrail/lake_sql.h"

using namespace vigil::cloudtrail;

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

struct UnknownStore : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 10000) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto t = parse_lake_time(input)) {
    std::string text = format_lake_time(*t);
    check(parse_lake_time(text) == t);
  }

  std::set<std::string> resolved;
  auto resolver = [&](std::string_view target) {
    check(!target.empty());
    if (target == "missing") throw UnknownStore("missing");
    resolved.insert(std::string(target));
    return std::string(target);
  };
  LakeSql first;
  try {
    first = rewrite_lake_sql(input, resolver);
  } catch (const LakeSqlError&) {
    return 0;
  } catch (const UnknownStore&) {
    return 0;
  }
  LakeSql second = rewrite_lake_sql(input, resolver);
  check(first.sql == second.sql && first.targets == second.targets);
  for (const std::string& target : first.targets) check(resolved.count(target) == 1);
  std::set<std::string> distinct(first.targets.begin(), first.targets.end());
  check(distinct.size() == first.targets.size());
  return 0;
}
