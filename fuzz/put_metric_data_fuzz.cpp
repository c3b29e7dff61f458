// libFuzzer: PutMetricData's hand-written awsJson decoder (services/cloudwatch/
// put_metric_data_decoder) against the generic path (JsonCodec::decode_request +
// validate_input with the cloudwatch model, then put_metric_data_input). Whatever the fast
// decoder accepts, the generic path must accept with the identical PutMetricDataInput; what it
// declines goes to the generic path in the server, so declining is always safe. The decoder
// also runs into an input reused across runs (as the server's per-thread one is), which must
// give the same result as a fresh one.
//
// The first byte picks how the rest is used: as the whole body, or spliced into a valid body
// at the namespace, a metric name, a dimension, a number, the datum list, a datum's members or
// the root's members, so the fuzzer reaches deep into the structure without a corpus.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "services/cloudwatch/put_metric_data_decoder.h"

namespace {

using namespace vigil;

struct Fixture {
  const protocol::ServiceModel* model = nullptr;
  std::unique_ptr<protocol::JsonCodec> codec;
  const protocol::Operation* operation = nullptr;
  cloudwatch::PutMetricDataInput reused;
  Fixture() {
    model = protocol::embedded_model("cloudwatch");
    if (!model) std::abort();
    codec = std::make_unique<protocol::JsonCodec>(*model);
    operation = model->operation("PutMetricData");
    if (!operation) std::abort();
  }
};

std::string body_for(uint8_t mode, const std::string& fuzz) {
  const std::string head = "{\"Namespace\":\"ns\",\"MetricData\":[";
  const std::string datum = "{\"MetricName\":\"m\",\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"b\"}],\"Timestamp\":1700000000.5,\"Value\":1}";
  switch (mode % 10) {
    case 0: return fuzz;
    case 1: return "{\"Namespace\":\"" + fuzz + "\",\"MetricData\":[" + datum + "]}";
    case 2: return head + "{\"MetricName\":\"" + fuzz + "\",\"Value\":1}]}";
    case 3: return head + "{\"MetricName\":\"m\",\"Dimensions\":[{\"Name\":\"" + fuzz + "\",\"Value\":\"v\"}]}]}";
    case 4: return head + "{\"MetricName\":\"m\",\"Value\":" + fuzz + "}]}";
    case 5: return head + "{\"MetricName\":\"m\",\"StorageResolution\":" + fuzz + ",\"Timestamp\":" + fuzz + "}]}";
    case 6: return "{\"Namespace\":\"ns\",\"MetricData\":" + fuzz + "}";
    case 7: return head + datum + "," + fuzz + "]}";
    case 8: return head + "{\"MetricName\":\"m\"," + fuzz + "}]}";
    default: return "{\"Namespace\":\"ns\",\"MetricData\":[" + datum + "]," + fuzz + "}";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 1 || size > 256 * 1024) return 0;
  std::string body = body_for(data[0], std::string(reinterpret_cast<const char*>(data + 1), size - 1));

  cloudwatch::PutMetricDataInput fast;
  bool accepted = cloudwatch::decode_put_metric_data(body, fast);
  bool accepted_reused = cloudwatch::decode_put_metric_data(body, fx.reused);
  if (accepted != accepted_reused || (accepted && !(fast == fx.reused))) std::abort();  // stale state survived a reuse

  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"x-amz-target", "GraniteServiceVersion20100801.PutMetricData"}, {"content-type", "application/x-amz-json-1.0"}};
  request.body = body;
  cloudwatch::PutMetricDataInput generic;
  try {
    Value input = fx.codec->decode_request(request, *fx.operation);
    protocol::validate_input(input, fx.operation->input, "ValidationError");
    generic = cloudwatch::put_metric_data_input(input);
  } catch (const AwsError&) {
    if (accepted) std::abort();  // the fast decoder accepted a body the generic path rejects
    return 0;
  }
  if (accepted && !(fast == generic)) std::abort();  // accepted, but decoded differently
  return 0;
}
