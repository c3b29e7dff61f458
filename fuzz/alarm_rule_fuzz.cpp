// Fuzzes the composite AlarmRule parser and evaluator: no crash, no hang, bounded recursion
// (AlarmRule::kMaxDepth) whatever the input.
#include "services/cloudwatch/alarm_rule.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto rule = vigil::cloudwatch::AlarmRule::parse(text);
    (void)rule.referenced_alarms();
    // Fixed state function: derived from the name so different references differ.
    (void)rule.evaluate([](std::string_view name) -> std::string {
      switch (name.size() % 3) {
        case 0: return "ALARM";
        case 1: return "OK";
        default: return "INSUFFICIENT_DATA";
      }
    });
  } catch (const vigil::cloudwatch::RuleError&) {
  }
  return 0;
}
