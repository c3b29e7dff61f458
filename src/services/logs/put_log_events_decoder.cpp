#include "services/logs/put_log_events_decoder.h"

#include <simdjson.h>

#include <cmath>
#include <cstring>

namespace vigil::logs {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Characters (code points) as validate_input counts them: bytes that are not UTF-8
// continuation bytes.
size_t chars_of(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// LogGroupName: length 1-512, pattern [\.\-_/#A-Za-z0-9]+ (ASCII only, so bytes = chars).
bool valid_group_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameChars) return false;
  for (unsigned char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '/' ||
              c == '#';
    if (!ok) return false;
  }
  return true;
}

// LogStreamName: length 1-512, pattern [^:*]* (RE2, dot-all). On valid UTF-8 that is "no
// ':' and no '*' byte"; anything not valid UTF-8 (which simdjson should never hand out) is
// left to RE2 on the generic path.
bool valid_stream_name(std::string_view s) {
  size_t chars = chars_of(s);
  if (chars < 1 || chars > kMaxNameChars) return false;
  if (s.find_first_of(":*") != std::string_view::npos) return false;
  return simdjson::validate_utf8(s.data(), s.size());
}

// Timestamp (long, min 0) as JsonCodec converts it: an int64, or a double with an integral
// value below 9.2e18 in magnitude; anything else is a SerializationException there.
bool timestamp_of(element e, int64_t& out) {
  switch (e.type()) {
    case element_type::INT64: out = int64_t(e.get_int64()); break;
    case element_type::DOUBLE: {
      double d = e.get_double();
      if (!(std::floor(d) == d && std::fabs(d) < 9.2e18)) return false;
      out = static_cast<int64_t>(d);
      break;
    }
    default: return false;  // UINT64 (> INT64_MAX), strings, null...: the generic path errs
  }
  return out >= 0;
}

// One InputLogEvent: exactly one non-null timestamp and message each (unknown members are
// ignored, as the generic decoder ignores members the model does not have).
bool decode_event(element e, InputEvent& out) {
  simdjson::dom::object fields;
  if (e.get_object().get(fields) != simdjson::SUCCESS) return false;
  bool have_timestamp = false, have_message = false;
  for (auto field : fields) {
    if (field.key == "timestamp") {
      if (have_timestamp || !timestamp_of(field.value, out.timestamp)) return false;
      have_timestamp = true;
    } else if (field.key == "message") {
      std::string_view message;
      // EventMessage: min length 1. simdjson validated the UTF-8, so non-empty is >= 1 char.
      if (have_message || field.value.get_string().get(message) != simdjson::SUCCESS || message.empty()) return false;
      out.message.assign(message.data(), message.size());
      have_message = true;
    }
  }
  return have_timestamp && have_message;
}

bool decode_root(element root, PutLogEventsInput& out) {
  simdjson::dom::object fields;
  if (root.get_object().get(fields) != simdjson::SUCCESS) return false;
  bool have_group = false, have_stream = false, have_events = false, have_token = false, have_entity = false;
  for (auto field : fields) {
    std::string_view key = field.key;
    element value = field.value;
    if (key == "logEvents") {
      simdjson::dom::array list;
      if (have_events || value.get_array().get(list) != simdjson::SUCCESS) return false;
      size_t n = list.size();  // O(1): the tape stores it (saturating far above the limit)
      if (n < kMinEventsPerCall || n > kMaxEventsPerCall) return false;
      // resize, not clear: a reused PutLogEventsInput keeps its message buffers.
      out.events.resize(n);
      size_t i = 0;
      for (element item : list)
        if (!decode_event(item, out.events[i++])) return false;
      have_events = true;
    } else if (key == "logGroupName") {
      std::string_view name;
      if (have_group || value.get_string().get(name) != simdjson::SUCCESS || !valid_group_name(name)) return false;
      out.log_group_name.assign(name.data(), name.size());
      have_group = true;
    } else if (key == "logStreamName") {
      std::string_view name;
      if (have_stream || value.get_string().get(name) != simdjson::SUCCESS || !valid_stream_name(name)) return false;
      out.log_stream_name.assign(name.data(), name.size());
      have_stream = true;
    } else if (key == "sequenceToken") {
      // Accepted and ignored (as AWS does since 2023), but still typed and constrained
      // (SequenceToken: min length 1); null counts as absent.
      if (have_token) return false;
      have_token = true;
      if (value.is_null()) continue;
      std::string_view token;
      if (value.get_string().get(token) != simdjson::SUCCESS || token.empty()) return false;
    } else if (key == "entity") {
      // Rare, and a structure of two constrained maps: the generic path handles it.
      if (have_entity || !value.is_null()) return false;
      have_entity = true;
    }
  }
  return have_group && have_stream && have_events;
}

}  // namespace

bool decode_put_log_events(std::string_view body, PutLogEventsInput& out) {
  // Per thread, reused: the parser's tape and string buffers and the padded copy of the body
  // (simdjson reads up to SIMDJSON_PADDING bytes past the end). Steady state: no allocation.
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  constexpr size_t kKeepBytes = 4 << 20;  // do not keep a huge body's buffer forever
  if (padded.capacity() > kKeepBytes && body.size() + simdjson::SIMDJSON_PADDING <= kKeepBytes) std::string().swap(padded);
  if (padded.size() < body.size() + simdjson::SIMDJSON_PADDING) padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded.data(), body.data(), body.size());
  std::memset(padded.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  element root;
  if (parser.parse(padded.data(), body.size(), false).get(root) != simdjson::SUCCESS) return false;
  return decode_root(root, out);
}

}  // namespace vigil::logs
