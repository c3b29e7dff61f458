// Checks a decoded request against the model's constraints (required members, lengths,
// ranges, enums, patterns), collecting every violation into the one message AWS sends:
// "2 validation errors detected: Value 'x' at 'a.b' failed to satisfy constraint: ...; ...".
// Protocol-independent: every codec's output goes through it.
#pragma once

#include <string>
#include <vector>

#include "core/value.h"
#include "protocol/schema.h"

namespace vigil::protocol {

std::vector<std::string> find_violations(const Value& input, const Shape& shape);

// Throws AwsError(error_code, "<n> validation error(s) detected: ...") if any violation.
// error_code is the service's own (Logs: InvalidParameterException; most: ValidationException).
void validate_input(const Value& input, const Shape* shape, const std::string& error_code);

}  // namespace vigil::protocol
