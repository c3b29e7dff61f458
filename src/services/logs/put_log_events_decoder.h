// PutLogEvents' hand-written awsJson decoder: the body straight into the handler's types,
// without the generic path's Value tree (a node, a key and a string per event), its model
// walk (validate_input) and its copies out of the tree.
//
// It accepts exactly the bodies the generic path (JsonCodec::decode_request, then
// protocol::validate_input with the logs model) accepts, producing the same values, and
// declines everything else: malformed JSON, wrong types, nulls, duplicate members, broken
// constraints, and the rarely sent `entity`. A declined body goes down the generic path,
// which answers the exact SerializationException / InvalidParameterException. Checked
// byte-for-byte against the generic path by tests/unit/put_log_events_fast_path_test.cpp
// and fuzz/put_log_events_fuzz.cpp.
//
// Cost: one simdjson DOM parse (the same parser and limits as the generic path, so the same
// bodies parse) plus one pass over the tape; per event one string copy of the message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "services/logs/log_store.h"

namespace vigil::logs {

struct PutLogEventsInput {
  std::string log_group_name;
  std::string log_stream_name;
  std::vector<InputEvent> events;
};

// The model's constraints the decoder applies (schema/logs.json); the unit test checks they
// still match the embedded model.
inline constexpr size_t kMaxNameChars = 512;        // LogGroupName, LogStreamName
inline constexpr size_t kMinEventsPerCall = 1;      // InputLogEvents
inline constexpr size_t kMaxEventsPerCall = 10'000;
inline constexpr std::string_view kLogGroupNamePattern = "[\\.\\-_/#A-Za-z0-9]+";
inline constexpr std::string_view kLogStreamNamePattern = "[^:*]*";

// True when `body` is a PutLogEvents request the generic path accepts; `out` then holds it.
// False (decline): `out` is unspecified and the caller must take the generic path.
bool decode_put_log_events(std::string_view body, PutLogEventsInput& out);

}  // namespace vigil::logs
