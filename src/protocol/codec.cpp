#include "protocol/codec.h"

#include "protocol/cbor_codec.h"
#include "protocol/json_codec.h"
#include "protocol/query_codec.h"
#include "protocol/rest_codec.h"

namespace vigil::protocol {

std::unique_ptr<Codec> make_codec(const ServiceModel& model, std::string_view protocol) {
  if (protocol == "json") return std::make_unique<JsonCodec>(model);
  if (protocol == "query") return std::make_unique<QueryCodec>(model);
  if (protocol == "smithy-rpc-v2-cbor") return std::make_unique<CborCodec>(model);
  if (protocol == "rest-json" || protocol == "rest-xml") return std::make_unique<RestCodec>(model, std::string(protocol));
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
  if (request.query.find("Action=") != std::string::npos && speaks("query")) {
    // Action=<Op> in the query string (GET, or a POST with an empty body).
    std::string_view q = request.query;
    if (q.substr(0, 7) == "Action=" || q.find("&Action=") != std::string_view::npos) return "query";
  }
  // rpc-v2-cbor without the header (some clients): POST /service/<Name>/operation/<Op>.
  if (speaks("smithy-rpc-v2-cbor") && content_type.find("application/cbor") != std::string_view::npos &&
      request.path.find("/service/") != std::string::npos && request.path.find("/operation/") != std::string::npos)
    return "smithy-rpc-v2-cbor";
  if (content_type.find("application/x-amz-json-") != std::string_view::npos && speaks("json")) return "json";
  return model.protocol;
}

}  // namespace vigil::protocol
