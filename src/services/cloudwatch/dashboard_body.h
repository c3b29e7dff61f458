// PutDashboard DashboardBody validation ("Dashboard Body Structure and Syntax", API reference).
//
// Messages follow AWS's JSON-schema wording ("Should have required property 'x'",
// "Should be integer", "Should NOT have more than 2 items", "Invalid metric field type, only
// \"String\" type is allowed") with JSON-pointer data paths ("/widgets/0/properties").
// PutDashboard rejects a body with any message as InvalidParameterInput
// "The dashboard body is invalid, there are N validation errors: [...]" (see
// dashboard_invalid_message); a body that is not JSON at all gets
// "The field DashboardBody must be a valid JSON object".
//
// Cost: one simdjson DOM parse of the body (<= 1 MB by AWS's limit) plus a walk of the widgets;
// PutDashboard only, not a hot path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::cloudwatch {

struct DashboardValidationMessage {
  std::string data_path, message;
};

// Empty result: valid. A non-JSON body or non-object top level yields one message with data_path
// "" and message "The field DashboardBody must be a valid JSON object".
std::vector<DashboardValidationMessage> validate_dashboard_body(std::string_view body);

// AWS's InvalidParameterInput text for a rejected body.
std::string dashboard_invalid_message(const std::vector<DashboardValidationMessage>& messages);

inline constexpr std::string_view kDashboardNotJson = "The field DashboardBody must be a valid JSON object";

}  // namespace vigil::cloudwatch
