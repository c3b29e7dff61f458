// libFuzzer: arbitrary bytes as an AWS query request (form body, or query string when the
// first byte is odd) to CloudWatch; the first byte also picks an Action prefix so the
// fuzzer reaches every operation's members. Must never crash, hang or leak.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/query_codec.h"
#include "protocol/schema.h"

namespace {

using namespace vigil;
using namespace vigil::protocol;

struct Fixture {
  const ServiceModel* model = nullptr;
  std::unique_ptr<QueryCodec> codec;
  std::vector<const Operation*> operations;
  Fixture() {
    model = embedded_model("cloudwatch");
    codec = std::make_unique<QueryCodec>(*model);
    for (const auto& [name, op] : model->operations) operations.push_back(&op);
    std::sort(operations.begin(), operations.end(), [](const Operation* a, const Operation* b) { return a->name < b->name; });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size == 0 || size > 64 * 1024) return 0;
  const Operation& op = *fx.operations[(data[0] >> 1) % fx.operations.size()];
  std::string text = "Action=" + op.name + "&" + std::string(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpRequest request;
  request.path = "/";
  if (data[0] & 1) {
    request.method = "GET";
    request.query = std::move(text);
  } else {
    request.method = "POST";
    request.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    request.body = std::move(text);
  }
  try {
    const Operation& resolved = fx.codec->resolve_operation(request);
    Value input = fx.codec->decode_request(request, resolved);
    HttpResponse response;
    fx.codec->encode_response(input, resolved, {"fuzz"}, response);
  } catch (const AwsError& e) {
    HttpResponse response;
    fx.codec->encode_error(e, {"fuzz"}, response);
  }
  return 0;
}
