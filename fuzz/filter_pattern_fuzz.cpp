// libFuzzer target for logs/filter_pattern: compiles the input's first line as a filter pattern
// and, when it compiles, matches the following lines against it as log events, checking that
// the different entry points agree. Work per input is bounded: at most 4 KiB of input, the
// pattern is capped at 1024 characters by compile(), at most 16 events.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/logs/filter_pattern.h"

using vigil::logs::FilterMatch;
using vigil::logs::FilterPattern;

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t newline = input.find('\n');
  std::string_view pattern = input.substr(0, newline);
  std::string_view events = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  std::string error;
  auto compiled = FilterPattern::compile(pattern, &error);
  if (!compiled) {
    check(!error.empty());
    return 0;
  }
  check(compiled->source() == pattern);
  check(compiled->regex_count() <= FilterPattern::kMaxRegexes);

  const std::vector<std::string_view> selectors = {"$.a", "$.a.b[0]", "$1", "$a", "$2"};
  int count = 0;
  for (;;) {
    std::size_t end = events.find('\n');
    std::string_view event = events.substr(0, end);
    bool matched = compiled->matches(event);
    FilterMatch match;
    check(compiled->matches(event, &match) == matched);
    if (!matched || compiled->kind() != FilterPattern::Kind::kSpaceDelimited) check(match.extracted_values.empty());

    std::vector<std::optional<std::string>> values;
    check(compiled->match_and_extract(event, selectors, &values) == matched);
    check(values.size() == selectors.size());
    for (std::size_t k = 0; k < selectors.size(); ++k) {
      if (!matched) check(!values[k]);
      if (values[k]) check(compiled->extract(event, selectors[k]) == values[k]);
      compiled->is_valid_selector(selectors[k]);
    }
    if (compiled->kind() == FilterPattern::Kind::kSpaceDelimited) {
      for (const auto& [key, value] : match.extracted_values) {
        check(key.size() >= 2 && key[0] == '$');
        check(compiled->extract(event, key).has_value());
      }
    }
    if (end == std::string_view::npos || ++count == 16) break;
    events.remove_prefix(end + 1);
  }
  return 0;
}
