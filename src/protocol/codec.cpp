#include "protocol/codec.h"

#include "protocol/json_codec.h"

namespace vigil::protocol {

std::unique_ptr<Codec> make_codec(const ServiceModel& model, std::string_view protocol) {
  if (protocol == "json") return std::make_unique<JsonCodec>(model);
  return nullptr;
}

std::string detect_protocol(const ServiceModel& model, const HttpRequest& request) {
  auto speaks = [&](std::string_view p) {
    for (const auto& q : model.protocols)
      if (q == p) return true;
    return false;
  };
  std::string_view smithy = request.header("smithy-protocol");
  if (smithy == "rpc-v2-cbor" && speaks("smithy-rpc-v2-cbor")) return "smithy-rpc-v2-cbor";
  std::string_view content_type = request.header("content-type");
  if (request.has_header("x-amz-target") && speaks("json")) return "json";
  if (content_type.find("x-www-form-urlencoded") != std::string_view::npos && speaks("query")) return "query";
  if (request.method == "GET" && request.query.find("Action=") != std::string::npos && speaks("query")) return "query";
  return model.protocol;
}

}  // namespace vigil::protocol
