// PutLogEvents' awsJson fast path (LogsService's raw handler + put_log_events_decoder) against
// the generic path (JsonCodec decode, validate_input, the Value handler), byte for byte: for
// every body, the same response or the same error (code, message, status), the same audit
// parameters and resources, and the same events in the store. Each path runs against its own
// fresh store with the same clock, so sequences and tokens line up.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/aws_error.h"
#include "core/clock.h"
#include "protocol/json_codec.h"
#include "protocol/validate.h"
#include "services/logs/logs_service.h"
#include "services/logs/put_log_events_decoder.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::logs {
namespace {

constexpr char kAccount[] = "000000000000";
constexpr char kRegion[] = "us-east-1";
constexpr int64_t kNow = 1'700'000'000'000;

struct Outcome {
  bool ok = false;
  bool declined = false;  // fast path only: the raw handler left the body to the generic path
  std::string body;       // response JSON, or "code|status|message"
  std::string audit;      // audit_parameters as JSON, or "<none>"
  std::vector<std::pair<std::string, std::string>> resources;
};

struct Side {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<LogStore> logs;
  std::unique_ptr<LogsService> service;
};

class PutLogEventsFastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Side* side : {&generic_, &fast_}) {
      side->dir = vigil::testing::make_temp_dir("vigil-ple");
      side->store = store::Store::open(side->dir);
      side->logs = std::make_unique<LogStore>(*side->store, clock_);
      side->logs->load();
      side->service = std::make_unique<LogsService>(*side->logs, clock_);
      for (const char* group : {"g", "#a.b-c_d/E9"}) {
        side->logs->create_group(kAccount, kRegion, group, {}, "", "");
        side->logs->create_stream(kAccount, kRegion, group, "s");
        side->logs->create_stream(kAccount, kRegion, group, "stream é ✓ \x01 /\\");
      }
    }
    codec_ = std::make_unique<protocol::JsonCodec>(generic_.service->model());
    operation_ = generic_.service->model().operation("PutLogEvents");
    ASSERT_NE(operation_, nullptr);
  }
  void TearDown() override {
    for (Side* side : {&generic_, &fast_}) {
      side->service.reset();
      side->logs.reset();
      side->store.reset();
      std::filesystem::remove_all(side->dir);
    }
  }

  HttpRequest request(const std::string& body) const {
    HttpRequest r;
    r.method = "POST";
    r.path = "/";
    r.headers = {{"x-amz-target", "Logs_20140328.PutLogEvents"}, {"content-type", "application/x-amz-json-1.1"}};
    r.body = body;
    return r;
  }

  server::CallContext context() const {
    server::CallContext ctx;
    ctx.account_id = kAccount;
    ctx.region = kRegion;
    return ctx;
  }

  static std::string error_text(const AwsError& e) { return e.code() + "|" + std::to_string(e.http_status()) + "|" + e.message(); }

  // What Dispatcher::handle_internal does on the generic path.
  Outcome run_generic(LogsService& service, const std::string& body) const {
    Outcome out;
    HttpRequest r = request(body);
    server::CallContext ctx = context();
    Value input;
    bool decoded = false;
    try {
      input = codec_->decode_request(r, *operation_);
      decoded = true;
      protocol::validate_input(input, operation_->input, service.validation_error_code());
      Value output = (*service.handler("PutLogEvents"))(ctx, input);
      out.ok = true;
      out.body = protocol::value_to_json(output, operation_->output);
    } catch (const AwsError& e) {
      out.body = error_text(e);
    }
    out.audit = decoded ? protocol::value_to_json([&] { Value scratch; return Value(service.audit_parameters("PutLogEvents", input, scratch)); }()) : "<none>";
    out.resources = ctx.resources;
    return out;
  }

  // What Dispatcher::handle_internal does for an awsJson request with a raw handler.
  Outcome run_fast(LogsService& service, const std::string& body) const {
    const server::RawHandler* raw = service.raw_handler("json", "PutLogEvents");
    EXPECT_NE(raw, nullptr);
    Outcome out;
    server::CallContext ctx = context();
    Value input;
    try {
      std::optional<Value> output = (*raw)(ctx, body, input);
      if (!output) {
        EXPECT_TRUE(input.is_null()) << "a declining raw handler must leave the input alone";
        EXPECT_TRUE(ctx.resources.empty()) << "a declining raw handler must have no effect";
        Outcome generic = run_generic(service, body);
        generic.declined = true;
        return generic;
      }
      out.ok = true;
      out.body = protocol::value_to_json(*output, operation_->output);
    } catch (const AwsError& e) {
      out.body = error_text(e);
    }
    out.audit = input.is_null() ? "<none>" : protocol::value_to_json([&] { Value scratch; return Value(service.audit_parameters("PutLogEvents", input, scratch)); }());
    out.resources = ctx.resources;
    return out;
  }

  // Runs a body through both paths and compares. Returns the fast path's outcome.
  Outcome check(const std::string& body) {
    Outcome g = run_generic(*generic_.service, body);
    Outcome f = run_fast(*fast_.service, body);
    std::string shown = body.size() > 300 ? body.substr(0, 300) + "..." : body;
    EXPECT_EQ(g.ok, f.ok) << shown;
    EXPECT_EQ(g.body, f.body) << shown;
    EXPECT_EQ(g.audit, f.audit) << shown;
    EXPECT_EQ(g.resources, f.resources) << shown;
    // Decoder level: whatever it accepts, the generic decode + validation accepts too, with
    // the same values.
    PutLogEventsInput decoded;
    if (decode_put_log_events(body, decoded)) {
      Value input;
      try {
        input = codec_->decode_request(request(body), *operation_);
        protocol::validate_input(input, operation_->input, "InvalidParameterException");
      } catch (const AwsError& e) {
        ADD_FAILURE() << "fast decoder accepted what the generic path rejects (" << error_text(e) << "): " << shown;
        return f;
      }
      EXPECT_EQ(decoded.log_group_name, input.str("logGroupName")) << shown;
      EXPECT_EQ(decoded.log_stream_name, input.str("logStreamName")) << shown;
      const auto& list = input.get("logEvents")->as_list();
      EXPECT_EQ(decoded.events.size(), list.size()) << shown;
      for (size_t i = 0; i < list.size() && i < decoded.events.size(); ++i) {
        EXPECT_EQ(decoded.events[i].timestamp, list[i].i64("timestamp", 0)) << shown;
        EXPECT_EQ(decoded.events[i].message, list[i].str("message")) << shown;
      }
    }
    return f;
  }
  // A body the fast path must take itself (not decline), with the same outcome.
  void check_fast(const std::string& body) {
    Outcome f = check(body);
    EXPECT_FALSE(f.declined) << "declined a plain request: " << body.substr(0, 300);
  }

  // Both stores hold the same events, in the same order, with the same sequences.
  void expect_same_stores() {
    for (const char* group : {"g", "#a.b-c_d/E9"}) {
      for (const char* stream : {"s", "stream é ✓ \x01 /\\"}) {
        std::vector<StoredEvent> events[2];
        int i = 0;
        for (Side* side : {&generic_, &fast_}) {
          uint64_t gid = 0, sid = 0;
          side->logs->with_group(kAccount, kRegion, group, [&](const LogGroup& g) {
            gid = g.id;
            sid = g.streams.at(stream)->id;
          });
          events[i++] = side->logs->read_stream(gid, sid, INT64_MIN, INT64_MAX, std::nullopt, true, 1'000'000, SIZE_MAX);
        }
        ASSERT_EQ(events[0].size(), events[1].size()) << group << " " << stream;
        for (size_t k = 0; k < events[0].size(); ++k) {
          EXPECT_EQ(events[0][k].timestamp, events[1][k].timestamp);
          EXPECT_EQ(events[0][k].sequence, events[1][k].sequence);
          EXPECT_EQ(events[0][k].ingestion_time, events[1][k].ingestion_time);
          EXPECT_EQ(events[0][k].message, events[1][k].message);
        }
      }
    }
  }

  static std::string events_json(size_t n, int64_t first = kNow - 1000, const std::string& message = "m") {
    std::string out = "[";
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ',';
      out += "{\"timestamp\":" + std::to_string(first + int64_t(i)) + ",\"message\":\"" + message + "\"}";
    }
    return out + "]";
  }
  static std::string body_with(const std::string& group, const std::string& stream, const std::string& events, const std::string& extra = "") {
    return "{\"logGroupName\":" + group + ",\"logStreamName\":" + stream + ",\"logEvents\":" + events + extra + "}";
  }

  ManualClock clock_{kNow};
  Side generic_, fast_;
  std::unique_ptr<protocol::JsonCodec> codec_;
  const protocol::Operation* operation_ = nullptr;
};

TEST_F(PutLogEventsFastPathTest, ModelStillHasTheConstraintsTheDecoderHardCodes) {
  const auto& model = generic_.service->model();
  const protocol::Shape* request = operation_->input;
  ASSERT_NE(request, nullptr);
  std::vector<std::string> names;
  for (const auto& m : request->members) {
    names.push_back(m.name);
    EXPECT_EQ(m.wire_name(), m.name);
    EXPECT_EQ(m.required, m.name == "logGroupName" || m.name == "logStreamName" || m.name == "logEvents") << m.name;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"entity", "logEvents", "logGroupName", "logStreamName", "sequenceToken"}));
  const protocol::Shape* group = request->member("logGroupName")->shape;
  EXPECT_EQ(group->type, protocol::ShapeType::String);
  EXPECT_EQ(group->min, 1);
  EXPECT_EQ(group->max, double(kMaxNameChars));
  EXPECT_EQ(group->pattern, kLogGroupNamePattern);
  EXPECT_TRUE(group->enum_values.empty());
  const protocol::Shape* stream = request->member("logStreamName")->shape;
  EXPECT_EQ(stream->min, 1);
  EXPECT_EQ(stream->max, double(kMaxNameChars));
  EXPECT_EQ(stream->pattern, kLogStreamNamePattern);
  EXPECT_TRUE(stream->enum_values.empty());
  const protocol::Shape* token = request->member("sequenceToken")->shape;
  EXPECT_EQ(token->type, protocol::ShapeType::String);
  EXPECT_EQ(token->min, 1);
  EXPECT_FALSE(token->max);
  EXPECT_TRUE(token->pattern.empty());
  const protocol::Shape* list = request->member("logEvents")->shape;
  EXPECT_EQ(list->type, protocol::ShapeType::List);
  EXPECT_EQ(list->min, double(kMinEventsPerCall));
  EXPECT_EQ(list->max, double(kMaxEventsPerCall));
  const protocol::Shape* event = list->list_member.shape;
  ASSERT_EQ(event->members.size(), 2u);
  for (const auto& m : event->members) {
    EXPECT_TRUE(m.required);
    EXPECT_EQ(m.wire_name(), m.name);
  }
  const protocol::Shape* timestamp = event->member("timestamp")->shape;
  EXPECT_EQ(timestamp->type, protocol::ShapeType::Long);
  EXPECT_EQ(timestamp->min, 0);
  EXPECT_FALSE(timestamp->max);
  const protocol::Shape* message = event->member("message")->shape;
  EXPECT_EQ(message->type, protocol::ShapeType::String);
  EXPECT_EQ(message->min, 1);
  EXPECT_FALSE(message->max);
  EXPECT_TRUE(message->pattern.empty());
  EXPECT_EQ(model.shape("Entity"), request->member("entity")->shape);
}

TEST_F(PutLogEventsFastPathTest, ValidRequestsTakeTheFastPathWithTheSameResult) {
  check_fast(body_with("\"g\"", "\"s\"", events_json(1)));
  check_fast(body_with("\"g\"", "\"s\"", events_json(100, kNow - 5000, std::string(200, 'x'))));
  check_fast(body_with("\"#a.b-c_d/E9\"", "\"stream é ✓ \\u0001 /\\\\\"", events_json(3)));
  // Member order, whitespace, unknown members (anywhere, any value), sequenceToken, null entity.
  check_fast(" \n{ \"logEvents\" : [ {\"message\":\"a\", \"timestamp\": 1699999999000 } ] ,\"logStreamName\":\"s\",\t\"logGroupName\":\"g\" }\r\n");
  check_fast(body_with("\"g\"", "\"s\"", events_json(2), ",\"sequenceToken\":\"49590302211911385\""));
  check_fast(body_with("\"g\"", "\"s\"", events_json(2), ",\"sequenceToken\":null"));
  check_fast(body_with("\"g\"", "\"s\"", events_json(2), ",\"entity\":null"));
  check_fast(body_with("\"g\"", "\"s\"", events_json(2), ",\"unknown\":{\"deep\":[1,2.5,{\"x\":null}],\"t\":true},\"other\":null"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000,\"message\":\"a\",\"extra\":[{}],\"ingestionTime\":\"x\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000,\"message\":\"a\"}]", ",\"" + std::string(200, 'k') + "\":" + std::string(50, '[') + std::string(50, ']')));
  // Unicode and escapes in messages.
  check_fast(body_with("\"g\"", "\"s\"",
                       "[{\"timestamp\":1699999999000,\"message\":\"h\\u00e9llo \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0000 \\ud83d\\ude00 \xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000,\"message\":\"{\\\"json\\\":[1,2,{\\\"k\\\":\\\"v\\\"}]}\"}]"));
  // Numbers as floats: integral values are accepted as the generic decoder accepts them.
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1.699999999e12,\"message\":\"a\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000.0,\"message\":\"a\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":16999999990000e-1,\"message\":\"a\"}]"));
  // Names at the length limits (characters, not bytes).
  check_fast(body_with("\"" + std::string(512, 'a') + "\"", "\"s\"", events_json(1)));
  std::string long_stream;
  for (int i = 0; i < 512; ++i) long_stream += "\xc3\xa9";
  check_fast(body_with("\"g\"", "\"" + long_stream + "\"", events_json(1)));
  // The most events a call may carry.
  check_fast(body_with("\"g\"", "\"s\"", events_json(10'000)));
  // Handler semantics after decoding: rejected events, semantic errors, unknown resources.
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"old\"},{\"timestamp\":" + std::to_string(kNow) + ",\"message\":\"now\"},{\"timestamp\":" + std::to_string(kNow + 3 * 3600 * 1000LL) + ",\"message\":\"future\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":" + std::to_string(kNow) + ",\"message\":\"b\"},{\"timestamp\":" + std::to_string(kNow - 1) + ",\"message\":\"a\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", "[{\"timestamp\":" + std::to_string(kNow - 25 * 3600 * 1000LL) + ",\"message\":\"a\"},{\"timestamp\":" + std::to_string(kNow) + ",\"message\":\"b\"}]"));
  check_fast(body_with("\"g\"", "\"s\"", events_json(2, kNow, std::string(600'000, 'x'))));
  check_fast(body_with("\"g\"", "\"s\"", events_json(1, kNow, std::string(1'048'551, 'x'))));
  check_fast(body_with("\"g\"", "\"s\"", events_json(1, kNow, std::string(1'048'550, 'x'))));
  check_fast(body_with("\"nope\"", "\"s\"", events_json(1)));
  check_fast(body_with("\"g\"", "\"nope\"", events_json(1)));
  check_fast(body_with("\"g\"", "\"s\"", events_json(1, 0)));
  expect_same_stores();
}

TEST_F(PutLogEventsFastPathTest, InvalidRequestsAnswerTheGenericErrors) {
  const std::string ok_events = events_json(1);
  std::vector<std::string> bodies = {
      // Malformed JSON and non-object roots.
      "", "   \n", "{", "}", "[]", "null", "1", "\"x\"", "{}", "{} x", "{\"logGroupName\":\"g\"", "{\"logGroupName\" \"g\"}",
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"a\"},]"), body_with("\"g\"", "\"s\"", ok_events) + ",",
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"bad \xff utf8\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"lone \\ud800 surrogate\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"lone \\udc00 low\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"raw \x01 control\"}]"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"x\":" + std::string(3000, '[') + std::string(3000, ']')),
      body_with("\"g\"", "\"s\"", ok_events, ",\"x\":1e400"),
      // Wrong types.
      body_with("5", "\"s\"", ok_events), body_with("\"g\"", "[]", ok_events), body_with("\"g\"", "\"s\"", "{}"),
      body_with("\"g\"", "\"s\"", "\"x\""), body_with("\"g\"", "\"s\"", "[\"x\"]"), body_with("\"g\"", "\"s\"", "[[]]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":5}]"), body_with("\"g\"", "\"s\"", "[{\"timestamp\":\"1\",\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":true,\"message\":\"a\"}]"), body_with("\"g\"", "\"s\"", "[{\"timestamp\":1.5,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1e19,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":18446744073709551615,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":9223372036854775807,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"sequenceToken\":5"), body_with("\"g\"", "\"s\"", ok_events, ",\"entity\":[]"),
      // Nulls and missing members.
      body_with("null", "\"s\"", ok_events), body_with("\"g\"", "null", ok_events), body_with("\"g\"", "\"s\"", "null"),
      body_with("\"g\"", "\"s\"", "[null]"), body_with("\"g\"", "\"s\"", "[{\"timestamp\":null,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":null}]"), body_with("\"g\"", "\"s\"", "[{\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1}]"), body_with("\"g\"", "\"s\"", "[{}]"),
      "{\"logStreamName\":\"s\",\"logEvents\":" + ok_events + "}", "{\"logGroupName\":\"g\",\"logEvents\":" + ok_events + "}",
      "{\"logGroupName\":\"g\",\"logStreamName\":\"s\"}", "{\"unknown\":1}",
      // Constraints: lengths, patterns, empty strings, event counts, negative timestamps.
      body_with("\"" + std::string(513, 'a') + "\"", "\"s\"", ok_events), body_with("\"g\"", "\"" + std::string(513, 's') + "\"", ok_events),
      body_with("\"\"", "\"s\"", ok_events), body_with("\"g\"", "\"\"", ok_events), body_with("\"a b\"", "\"s\"", ok_events),
      body_with("\"a:b\"", "\"s\"", ok_events), body_with("\"\xc3\xa9\"", "\"s\"", ok_events), body_with("\"g\\n\"", "\"s\"", ok_events),
      body_with("\"g\"", "\"a:b\"", ok_events), body_with("\"g\"", "\"a*b\"", ok_events), body_with("\"g\"", "\"*\"", ok_events),
      body_with("\"\"", "\"\"", "[]"), body_with("\"g\"", "\"s\"", "[]"), body_with("\"g\"", "\"s\"", events_json(10'001)),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1,\"message\":\"\"}]"), body_with("\"g\"", "\"s\"", "[{\"timestamp\":-1,\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":-1.0,\"message\":\"a\"}]"), body_with("\"g\"", "\"s\"", "[{\"timestamp\":-5,\"message\":\"\"},null]"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"sequenceToken\":\"\""),
      body_with("\"g\"", "\"s\"", ok_events, ",\"entity\":{\"keyAttributes\":{\"a\":\"b\"}}"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"entity\":{}"),
      // Duplicate members (the generic path reads the first, but still converts the others).
      body_with("\"g\"", "\"s\"", ok_events, ",\"logGroupName\":\"other\""), body_with("\"g\"", "\"s\"", ok_events, ",\"logGroupName\":5"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"logEvents\":[]"), body_with("\"g\"", "\"s\"", ok_events, ",\"logStreamName\":\"x\""),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000,\"timestamp\":\"x\",\"message\":\"a\"}]"),
      body_with("\"g\"", "\"s\"", "[{\"timestamp\":1699999999000,\"message\":\"a\",\"message\":\"b\"}]"),
      body_with("\"g\"", "\"s\"", ok_events, ",\"sequenceToken\":\"a\",\"sequenceToken\":\"b\""),
  };
  for (const auto& body : bodies) check(body);
  expect_same_stores();
}

// Random edits of valid bodies (deterministic): whatever either path does, both do the same.
TEST_F(PutLogEventsFastPathTest, RandomMutationsAgree) {
  const std::vector<std::string> seeds = {
      body_with("\"g\"", "\"s\"", events_json(3)),
      body_with("\"#a.b-c_d/E9\"", "\"s\"", "[{\"timestamp\":1.699999999e12,\"message\":\"\\u00e9\\n\"}]", ",\"sequenceToken\":\"1\""),
      body_with("\"g\"", "\"stream é ✓ \\u0001 /\\\\\"", "[{\"timestamp\":1699999999000,\"message\":\"x\",\"z\":null}]", ",\"entity\":null"),
  };
  const std::string alphabet = "{}[]\":,0123456789.-eE+ \\ntruefalsnul*#/\xc3\xa9gs";
  std::mt19937 rng(12345);
  for (int round = 0; round < 1500; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: body.insert(body.begin() + long(at), alphabet[rng() % alphabet.size()]); break;
        default: body.erase(at, 1 + rng() % 4); break;
      }
    }
    check(body);
  }
  expect_same_stores();
}

}  // namespace
}  // namespace vigil::logs
