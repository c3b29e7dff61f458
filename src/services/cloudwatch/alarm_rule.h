// Composite alarm AlarmRule language (PutCompositeAlarm).
//
// Grammar (AWS "Creating a composite alarm" user guide):
//   expr    := or
//   or      := and ("OR" and)*
//   and     := not ("AND" not)*
//   not     := "NOT" not | primary
//   primary := "(" expr ")" | TRUE | FALSE | STATE "(" name ")"
//   STATE   := ALARM | OK | INSUFFICIENT_DATA;  name: bare text up to ')' or "quoted"
// AWS does not document operator precedence; we use the conventional NOT > AND > OR
// (the console and CDK always parenthesise mixed AND/OR, so real rules don't depend on it).
// Keywords are matched case-insensitively: the user guide itself writes `False`.
//
// Limits (AWS): rule <= 10240 chars; <= 100 child alarm references; <= 500 elements
// (child alarms, TRUE/FALSE, parenthesis pairs); at least one child alarm or TRUE/FALSE.
// Vigil's own bound: nesting (parentheses + NOT) <= 500 so parse/evaluate recursion is bounded.
//
// Cost: parse is O(n) over the text and allocates one node per element; evaluate walks the
// tree once with short-circuiting and calls state_of once per reached reference (hot path of
// composite re-evaluation: no allocation besides what state_of does).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::cloudwatch {

struct RuleError {
  std::string message;  // ValidationError text for the AlarmRule parameter
};

class AlarmRule {
 public:
  static constexpr size_t kMaxLength = 10240;
  static constexpr size_t kMaxChildAlarms = 100;
  static constexpr size_t kMaxElements = 500;
  static constexpr size_t kMaxDepth = 500;

  // Throws RuleError on syntax errors or limit violations.
  static AlarmRule parse(std::string_view text);

  // Every alarm reference as written (name or ARN, quotes removed), in order, de-duplicated.
  std::vector<std::string> referenced_alarms() const;

  // state_of returns "OK" / "ALARM" / "INSUFFICIENT_DATA" for a referenced alarm.
  bool evaluate(const std::function<std::string(std::string_view alarm)>& state_of) const;

 private:
  enum class Kind : uint8_t { True, False, StateIs, Not, And, Or };
  struct Node {
    Kind kind;
    uint8_t state = 0;        // StateIs: 0 ALARM, 1 OK, 2 INSUFFICIENT_DATA
    uint32_t ref = 0;         // StateIs: index into refs_
    uint32_t lhs = 0, rhs = 0;  // Not uses lhs; And/Or use both
  };
  friend class RuleParser;
  bool eval(uint32_t node, const std::function<std::string(std::string_view)>& state_of) const;

  std::vector<Node> nodes_;
  std::vector<std::string> refs_;  // per StateIs node reference, as written
  uint32_t root_ = 0;
};

// One child alarm that caused a composite transition, for StateReason / StateReasonData.
struct TriggeringAlarm {
  std::string arn;
  std::string state;         // the child's state value
  int64_t state_timestamp_ms;  // when the child entered that state
};

// AWS's composite reason, e.g.
//   "arn:aws:cloudwatch:us-east-1:123:alarm:b transitioned to ALARM at Sunday 30 October, 2022 20:47:35 UTC"
// The first triggering alarm (the one whose transition caused this evaluation) is named.
std::string composite_reason(const std::vector<TriggeringAlarm>& triggering);
// {"triggeringAlarms":[{"arn":"...","state":{"value":"ALARM","timestamp":"2022-10-30T20:47:35.671+0000"}}]}
std::string composite_reason_data(const std::vector<TriggeringAlarm>& triggering);

}  // namespace vigil::cloudwatch
