// libFuzzer: PutLogEvents' hand-written awsJson decoder (services/logs/put_log_events_decoder)
// against the generic path (JsonCodec::decode_request + validate_input with the logs model).
// Whatever the fast decoder accepts, the generic path must accept with the same group, stream
// and events; what it declines goes to the generic path in the server, so declining is
// always safe. The handler code after decoding is shared by both paths (LogsService::
// store_log_events), so the decode is where they could differ.
//
// The first byte picks how the rest is used: as the whole body, or spliced into a valid body
// at a message, a timestamp, a name, the event list or an extra member, so the fuzzer reaches
// deep into the structure without a corpus.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/aws_error.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "services/logs/put_log_events_decoder.h"

namespace {

using namespace vigil;

struct Fixture {
  const protocol::ServiceModel* model = nullptr;
  std::unique_ptr<protocol::JsonCodec> codec;
  const protocol::Operation* operation = nullptr;
  Fixture() {
    model = protocol::embedded_model("logs");
    codec = std::make_unique<protocol::JsonCodec>(*model);
    operation = model->operation("PutLogEvents");
    if (!operation) std::abort();
  }
};

std::string body_for(uint8_t mode, const std::string& fuzz) {
  const std::string events = "[{\"timestamp\":1700000000000,\"message\":\"a\"}]";
  switch (mode % 8) {
    case 0: return fuzz;
    case 1: return "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":1700000000000,\"message\":\"" + fuzz + "\"}]}";
    case 2: return "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":" + fuzz + ",\"message\":\"m\"}]}";
    case 3: return "{\"logGroupName\":\"" + fuzz + "\",\"logStreamName\":\"s\",\"logEvents\":" + events + "}";
    case 4: return "{\"logGroupName\":\"g\",\"logStreamName\":\"" + fuzz + "\",\"logEvents\":" + events + "}";
    case 5: return "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":" + fuzz + "}";
    case 6: return "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[" + fuzz + "]}";
    default: return "{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":" + events + "," + fuzz + "}";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 1 || size > 256 * 1024) return 0;
  std::string body = body_for(data[0], std::string(reinterpret_cast<const char*>(data + 1), size - 1));

  logs::PutLogEventsInput fast;
  bool accepted = logs::decode_put_log_events(body, fast);

  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"x-amz-target", "Logs_20140328.PutLogEvents"}, {"content-type", "application/x-amz-json-1.1"}};
  request.body = body;
  Value input;
  try {
    input = fx.codec->decode_request(request, *fx.operation);
    protocol::validate_input(input, fx.operation->input, "InvalidParameterException");
  } catch (const AwsError&) {
    if (accepted) std::abort();  // the fast decoder accepted a body the generic path rejects
    return 0;
  }
  if (!accepted) return 0;  // declined: the server takes the generic path, nothing to compare
  if (fast.log_group_name != input.str("logGroupName") || fast.log_stream_name != input.str("logStreamName")) std::abort();
  const auto& list = input.get("logEvents")->as_list();
  if (fast.events.size() != list.size()) std::abort();
  for (size_t i = 0; i < list.size(); ++i)
    if (fast.events[i].timestamp != list[i].i64("timestamp", 0) || fast.events[i].message != list[i].str("message")) std::abort();
  return 0;
}
