// libFuzzer: arbitrary bytes as an S3 (rest-xml) request. The first byte picks an operation
// (its method is used); then "path\nquery\nheader: value\n...\n\nbody". Routing, label /
// query / header conversion and the XML body reader must never crash, hang or leak, and
// any decoded Value must encode (as that operation's output) without crashing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/rest_codec.h"
#include "protocol/schema.h"

namespace {

using namespace vigil;
using namespace vigil::protocol;

struct Fixture {
  const ServiceModel* model = nullptr;
  std::unique_ptr<RestCodec> codec;
  std::vector<const Operation*> operations;
  Fixture() {
    model = embedded_model("s3");
    RestOptions options = default_rest_options(*model);
    options.virtual_host_suffixes = {"s3.localhost"};
    codec = std::make_unique<RestCodec>(*model, "rest-xml", options);
    for (const auto& [name, op] : model->operations) operations.push_back(&op);
    std::sort(operations.begin(), operations.end(), [](const Operation* a, const Operation* b) { return a->name < b->name; });
  }
};

std::string_view next_line(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size == 0 || size > 64 * 1024) return 0;
  const Operation& selected = *fx.operations[data[0] % fx.operations.size()];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpRequest request;
  request.method = selected.http_method;
  request.path = "/" + std::string(next_line(rest));
  request.query = std::string(next_line(rest));
  while (!rest.empty()) {
    std::string_view line = next_line(rest);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
  }
  request.body = std::string(rest);

  auto exercise = [&](const Operation& op) {
    try {
      Value input = fx.codec->decode_request(request, op);
      HttpResponse response;
      fx.codec->encode_response(input, op, {"fuzz"}, response);
    } catch (const AwsError& e) {
      HttpResponse response;
      fx.codec->encode_error(e, {"fuzz"}, response);
    }
  };
  try {
    exercise(fx.codec->resolve_operation(request));
  } catch (const AwsError&) {
  }
  exercise(selected);  // the body as the selected operation's input, routed or not
  return 0;
}
