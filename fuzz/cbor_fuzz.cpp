// libFuzzer: arbitrary bytes as an rpc-v2-cbor request body of a CloudWatch operation (the
// first byte picks the operation), plus the generic CBOR decoder and its round trip.
// Must never crash, hang or leak; decode errors are AwsError / cbor::DecodeError.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/cbor.h"
#include "protocol/cbor_codec.h"
#include "protocol/schema.h"

namespace {

using namespace vigil;
using namespace vigil::protocol;

struct Fixture {
  const ServiceModel* model = nullptr;
  std::unique_ptr<CborCodec> codec;
  std::vector<const Operation*> operations;
  Fixture() {
    model = embedded_model("cloudwatch");
    codec = std::make_unique<CborCodec>(*model);
    for (const auto& [name, op] : model->operations) operations.push_back(&op);
    std::sort(operations.begin(), operations.end(), [](const Operation* a, const Operation* b) { return a->name < b->name; });
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
  if (size == 0 || size > 64 * 1024) return 0;
  const Operation& op = *fx.operations[data[0] % fx.operations.size()];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  // Generic decoder: whatever it accepts must survive encode -> decode unchanged.
  try {
    Value v = cbor::decode(body);
    Value again = cbor::decode(cbor::encode(v));
    if (!has_nan(v) && !(again == v)) std::abort();
  } catch (const cbor::DecodeError&) {
  }

  HttpRequest request;
  request.method = "POST";
  request.path = "/service/" + fx.model->target_prefix + "/operation/" + op.name;
  request.headers = {{"smithy-protocol", "rpc-v2-cbor"}, {"content-type", "application/cbor"}};
  request.body = std::move(body);
  try {
    const Operation& resolved = fx.codec->resolve_operation(request);
    Value input = fx.codec->decode_request(request, resolved);
    // A decoded input re-encodes with its shape and converts back to the same Value.
    std::string bytes;
    shape_value_to_cbor(input, resolved.input, bytes);
    Value back = cbor_value_to_shape(cbor::decode(bytes), resolved.input);
    if (!has_nan(input) && !(back == input)) std::abort();
    // Encoders must cope with any Value, even one of the wrong shape.
    HttpResponse response;
    fx.codec->encode_response(input, resolved, {"fuzz"}, response);
  } catch (const AwsError&) {
  }
  return 0;
}
