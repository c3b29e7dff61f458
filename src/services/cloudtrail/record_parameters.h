// requestParameters and responseElements as AWS's CloudTrail records write them.
//
// AWS renders a call's input and output with its Java SDK's names: each structure member by
// its model name with the first letter lowercased ("LogGroupName" -> "logGroupName",
// "TrailARN" -> "trailARN", KMS's "AWSAccountId" -> "aWSAccountId"), map keys as they are
// (tags, encryption contexts), timestamps as Java's medium date ("Dec 7, 2026, 10:38:38 PM",
// UTC). Tools written against AWS's records (EventBridge patterns on detail.requestParameters,
// Lake and Athena queries, SIEM parsers) rely on those names.
#pragma once

#include <string>

#include "core/value.h"

namespace vigil::protocol {
struct Shape;
}

namespace vigil::cloudtrail {

// Appends `value` as JSON. `shape`: the operation's input or output shape, whose structure
// members get AWS's names (as above); nullptr: names are kept (a service that named them
// itself, server::Service::audit_names_from_model() false). One pass over the value, a
// member lookup per structure key.
void append_record_parameters(const Value& value, const protocol::Shape* shape, std::string& out);

// Java's medium date-time format in UTC, as AWS's records show timestamp parameters.
std::string java_medium_date(double epoch_seconds);

}  // namespace vigil::cloudtrail
