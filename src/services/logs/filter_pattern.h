// CloudWatch Logs filter patterns: the syntax shared by metric filters, subscription filters,
// FilterLogEvents, TestMetricFilter and Live Tail. Three families, chosen by the first
// non-blank character of the pattern:
//
//   ERROR "Bad Request" ?WARN -DEBUG %5\d\d%      unstructured terms (and %regex%)
//   { $.eventType = "UpdateTrail" && $.latency > 500 }                JSON
//   [ip, user, ..., status_code = 4* || status_code = 5*, bytes > 1000]  space-delimited
//
// A pattern is compiled once (validation happens there, with AWS's limits) and is then
// immutable and safe to share between threads. Matching never throws.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::logs {

// What TestMetricFilter reports as `extractedValues` for one matching event. Only
// space-delimited patterns extract anything (AWS: "If you are not using a space-delimited
// filter, this will be empty"): a field named in the pattern is reported as `$name`, every
// other field of the event (unnamed slots, fields swallowed by `...`) as `$N`, its 1-based
// position in the event. Entries are in the order of the event's fields.
struct FilterMatch {
  std::vector<std::pair<std::string, std::string>> extracted_values;
};

class FilterPattern {
 public:
  enum class Kind {
    kMatchAll,        // "" (or only blanks, or `" "`): every event matches
    kTerms,           // unstructured terms, quoted phrases, ?OR, -exclusions, %regex%
    kJson,            // { ... }: only events whose message is a JSON object can match
    kSpaceDelimited,  // [ ... ]
  };

  static constexpr std::size_t kMaxPatternLength = 1024;  // characters, AWS's filterPattern limit
  static constexpr int kMaxRegexes = 2;                   // AWS: 2 regexes per filter pattern
  static constexpr int kMaxNesting = 32;                  // parentheses; bounds parser recursion

  // Compiles a pattern. Returns nullptr and sets *error (a message suitable for AWS's
  // InvalidParameterException, e.g. "Invalid character(s) in term '...'" where AWS has one)
  // on a bad pattern. `error` may be null.
  static std::shared_ptr<const FilterPattern> compile(std::string_view pattern, std::string* error);

  // Hot path. Cost per call, n = message length:
  //  - kMatchAll: O(1).
  //  - kTerms: one memmem (two-way, O(n)) per literal term, one linear-time RE2 search per
  //    regex term; no allocation.
  //  - kJson: one simdjson DOM parse of the message (~GB/s, into a per-thread parser and
  //    buffer that are reused, so no allocation once warm), then per condition a walk of its
  //    selector (object keys are scanned linearly, array indexes walked), a comparison or a
  //    linear-time RE2 search. Messages that do not start with '{' are rejected in O(1)-ish.
  //  - kSpaceDelimited: one O(n) tokenization into a per-thread vector of views, then each
  //    slot's conditions on its field; with `...` segments after the first are placed
  //    leftmost, O(fields x tokens) worst case.
  bool matches(std::string_view message) const;
  // Same, and fills `out` (cleared first) with the extracted values when the event matches.
  bool matches(std::string_view message, FilterMatch* out) const;

  // The value a metric filter would publish for selector "$.a.b" (JSON patterns: resolved in
  // the message whether or not the conditions hold; strings unquoted, numbers in shortest
  // decimal form, booleans as true/false; nullopt for null, objects, arrays, a missing
  // property or a non-JSON message) or "$name" / "$N" (space-delimited patterns: only when
  // the message matches the pattern, since fields are bound by matching). nullopt for a
  // selector that does not fit the pattern's kind.
  std::optional<std::string> extract(std::string_view message, std::string_view selector) const;

  // One pass for metric filters: matches the message and, only if it matches, resolves each
  // selector (metric value, dimensions) like extract() does, without parsing twice.
  // `values` is resized to selectors.size(); entries are nullopt when the event does not
  // match or a selector does not resolve.
  bool match_and_extract(std::string_view message, std::span<const std::string_view> selectors,
                         std::vector<std::optional<std::string>>* values) const;

  // Whether `selector` can name a value of this pattern, for validating a metric
  // transformation's metricValue and dimensions: a well-formed "$.path" for JSON patterns,
  // "$name" of a named field (or "$N") for space-delimited ones. Always false otherwise.
  bool is_valid_selector(std::string_view selector) const;

  Kind kind() const;
  int regex_count() const;        // for AWS's "5 filter patterns with regex per log group" quota
  std::string_view source() const;  // the pattern as given

  ~FilterPattern();
  FilterPattern(const FilterPattern&) = delete;
  FilterPattern& operator=(const FilterPattern&) = delete;

  struct Impl;  // public only so the implementation file's helpers can name it

 private:
  explicit FilterPattern(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::logs
