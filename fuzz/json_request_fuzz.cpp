// libFuzzer: arbitrary bytes as an awsJson request body of an operation of the logs,
// cloudtrail, cloudwatch or kms models (the first byte picks the model and operation). Whatever
// decodes must encode back to JSON that decodes to the same Value. Must never crash, hang
// or leak.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/json_codec.h"
#include "protocol/schema.h"

namespace {

using namespace vigil;
using namespace vigil::protocol;

struct Service {
  const ServiceModel* model = nullptr;
  std::unique_ptr<JsonCodec> codec;
  std::vector<const Operation*> operations;
};

struct Fixture {
  std::vector<Service> services;
  Fixture() {
    for (const char* name : {"logs", "cloudtrail", "cloudwatch", "kms"}) {
      Service svc;
      svc.model = embedded_model(name);
      svc.codec = std::make_unique<JsonCodec>(*svc.model);
      for (const auto& [op_name, op] : svc.model->operations) svc.operations.push_back(&op);
      std::sort(svc.operations.begin(), svc.operations.end(), [](const Operation* a, const Operation* b) { return a->name < b->name; });
      services.push_back(std::move(svc));
    }
  }
};

bool has_nan(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Double: return std::isnan(v.as_double());
    case Value::Kind::List:
      for (const auto& x : v.as_list())
        if (has_nan(x)) return true;
      return false;
    case Value::Kind::Map:
      for (const auto& [k, x] : v.as_map())
        if (has_nan(x)) return true;
      return false;
    default: return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 2 || size > 64 * 1024) return 0;
  const Service& svc = fx.services[data[0] % fx.services.size()];
  const Operation& op = *svc.operations[data[1] % svc.operations.size()];
  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"x-amz-target", svc.model->target_prefix + "." + op.name},
                     {"content-type", "application/x-amz-json-" + (svc.model->json_version.empty() ? std::string("1.0") : svc.model->json_version)}};
  request.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    const Operation& resolved = svc.codec->resolve_operation(request);
    Value input = svc.codec->decode_request(request, resolved);
    std::string json = value_to_json(input, resolved.input);
    Value again = json_to_value(json, resolved.input);
    (void)again;
    HttpResponse response;
    svc.codec->encode_response(input, resolved, {"fuzz"}, response);
  } catch (const AwsError& e) {
    HttpResponse response;
    svc.codec->encode_error(e, {"fuzz"}, response);
  }
  return 0;
}
