#include "server/dispatcher.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "auth/sigv4.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/validate.h"

namespace vigil::server {

namespace {

auth::ProtocolFamily family_of(std::string_view codec_name) {
  if (codec_name == "query") return auth::ProtocolFamily::Query;
  if (codec_name == "rest-xml") return auth::ProtocolFamily::S3;
  return auth::ProtocolFamily::Json;
}

HttpResponse plain_json_error(int status, std::string_view code, std::string_view message, const std::string& request_id) {
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/x-amz-json-1.1");
  response.set_header("x-amzn-RequestId", request_id);
  response.body = "{\"__type\":";
  append_json_string(response.body, code);
  response.body += ",\"message\":";
  append_json_string(response.body, message);
  response.body += "}";
  return response;
}

bool is_loopback(std::string_view address) {
  return address.substr(0, 4) == "127." || address == "::1" || address.substr(0, 7) == "::ffff:127.";
}

// Reads `length` bytes of a spooled body from `offset`, through `block` (whose size bounds the
// memory), handing each piece to `fn`.
template <class Fn>
void read_body_file(const RequestBodyFile& file, std::string& block, Fn&& fn) {
  uint64_t done = 0;
  while (done < file.size()) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), file.size() - done));
    ssize_t n = file.read_at(block.data(), want, done);  // decrypted if spooled encrypted
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("cannot read a spooled request body");
    fn(std::string_view(block.data(), static_cast<size_t>(n)));
    done += static_cast<uint64_t>(n);
  }
}

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A spooled body's SHA-256 (lowercase hex): the listener's, or read back in 1 MiB blocks.
std::string body_file_sha256_hex(const RequestBodyFile& file) {
  if (file.sha256().size() == 32) return hex_encode(file.sha256());
  auth::Sha256 hash;
  std::string block(1 << 20, '\0');
  read_body_file(file, block, [&](std::string_view piece) { hash.update(piece); });
  return hash.finish_hex();
}

}  // namespace

Dispatcher::Dispatcher(const Accounts& accounts, const Clock& clock) : accounts_(accounts), clock_(clock) {}

void Dispatcher::add_service(Service* service, const protocol::RestOptions* rest_options) {
  auto route = std::make_unique<Route>();
  route->service = service;
  for (const auto& protocol : service->model().protocols) {
    if (rest_options && (protocol == "rest-xml" || protocol == "rest-json")) {
      route->codecs.emplace(protocol, std::make_unique<protocol::RestCodec>(service->model(), protocol, *rest_options));
      continue;
    }
    if (auto codec = protocol::make_codec(service->model(), protocol)) route->codecs.emplace(protocol, std::move(codec));
  }
  by_signing_name_[service->model().signing_name] = route.get();
  if (!service->model().target_prefix.empty()) by_target_prefix_[service->model().target_prefix] = route.get();
  routes_.push_back(std::move(route));
}

Dispatcher::Route* Dispatcher::route_for(const HttpRequest& request, std::string_view signing_service) {
  if (!signing_service.empty()) {
    auto it = by_signing_name_.find(std::string(signing_service));
    if (it != by_signing_name_.end()) return it->second;
    return nullptr;
  }
  // Unsigned requests: guess the service from X-Amz-Target so the error has its shape.
  std::string_view target = request.header("x-amz-target");
  size_t dot = target.rfind('.');
  if (dot != std::string_view::npos) {
    auto it = by_target_prefix_.find(std::string(target.substr(0, dot)));
    if (it != by_target_prefix_.end()) return it->second;
  }
  return nullptr;
}

// A request without a SigV4 scope that is neither JSON (X-Amz-Target, an x-amz-json or CBOR
// body) nor query (a form body, Action=): an S3 request, anonymous or signed the old way (SigV2
// query or `Authorization: AWS key:signature`), which S3 refuses in its own XML (AccessDenied,
// or InvalidRequest for SigV2). Without this it got a JSON error no S3 client can read.
Dispatcher::Route* Dispatcher::unsigned_s3_route(const HttpRequest& request) {
  auto it = by_signing_name_.find("s3");
  if (it == by_signing_name_.end() || request.has_header("x-amz-target")) return nullptr;
  std::string_view content_type = request.header("content-type");
  // A form body is the query protocol's only on a POST (curl's default type on a PUT is still S3).
  if ((request.method == "POST" && content_type.find("x-www-form-urlencoded") != std::string_view::npos) ||
      content_type.find("application/x-amz-json") != std::string_view::npos ||
      content_type.find("application/cbor") != std::string_view::npos)
    return nullptr;
  std::string_view q = request.query;
  if (q.substr(0, 7) == "Action=" || q.find("&Action=") != std::string_view::npos) return nullptr;
  return it->second;
}

// The AWS error for a failed authentication, in the family of the codec that answers it,
// with the members S3 adds (AWSAccessKeyId, RequestTime, ServerTime...).
AwsError Dispatcher::auth_error(const auth::AuthResult& result, const protocol::Codec& codec) {
  auth::AwsAuthError e = auth::aws_error_for(result, family_of(codec.name()));
  AwsError error(e.code, e.message, e.http_status);
  for (auto& [name, value] : e.extra) error.with(name, value);
  return error;
}

protocol::Codec& Dispatcher::codec_for(Route& route, const HttpRequest& request) {
  std::string protocol = protocol::detect_protocol(route.service->model(), request);
  auto it = route.codecs.find(protocol);
  if (it != route.codecs.end()) return *it->second;
  return *route.codecs.begin()->second;  // every served model has at least one codec
}

auth::SigV4Request Dispatcher::sigv4_view(const HttpRequest& request) {
  auth::SigV4Request view;
  view.method = request.method;
  view.raw_path = request.path;
  view.raw_query = request.query;
  view.body = request.body;
  // A spooled body (or one not read yet) is not here: its hash is checked in handle_internal().
  view.body_complete = !request.body_file;
  view.headers.reserve(request.headers.size());
  for (const auto& [k, v] : request.headers) view.headers.emplace_back(k, v);
  return view;
}

auth::SecretLookup Dispatcher::secret_lookup() const {
  return [this](std::string_view key_id) -> std::optional<std::string> {
    const Principal* p = accounts_.find(key_id);
    if (!p) return std::nullopt;
    return p->secret_access_key;
  };
}

HttpResponse Dispatcher::handle(const HttpRequest& request) {
  try {
    return handle_internal(request);
  } catch (const std::exception& e) {
    // A defect, not bad input: say so without crashing the server.
    std::fprintf(stderr, "vigil: internal error: %s\n", e.what());
    return plain_json_error(500, "InternalFailure", "The request processing has failed because of an unknown error.", new_uuid());
  }
}

std::optional<HttpResponse> Dispatcher::refuse_before_body(const HttpRequest& head, int64_t& authenticated_ms) {
  try {
    auth::SigV4Request view = sigv4_view(head);
    view.body_complete = false;  // the body has not been read
    auto scope = auth::parse_credential_scope(view);
    Route* route = route_for(head, scope ? std::string_view(scope->service) : std::string_view());
    if (!route) return std::nullopt;  // handle() answers it, as for any request
    protocol::Codec& codec = codec_for(*route, head);
    view.s3_style_path = codec.name() == "rest-xml" && route->service->model().signing_name == "s3";
    const auto now = clock_.now();
    auth::AuthResult result = auth::verify_sigv4(view, secret_lookup(), now);
    if (result.ok()) {
      authenticated_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      return std::nullopt;
    }
    HttpResponse response;
    protocol::ResponseContext response_context{new_uuid()};
    codec.encode_error(auth_error(result, codec), response_context, response);
    return response;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil: internal error: %s\n", e.what());
    return std::nullopt;  // handle() decides after the body
  }
}

HttpResponse Dispatcher::handle_internal(const HttpRequest& request) {
  const std::string request_id = new_uuid();

  if (request.path.rfind("/_vigil/", 0) == 0) {
    if (request.path == "/_vigil/health") {
      HttpResponse response;
      response.set_header("Content-Type", "application/json");
      response.body = "{\"status\":\"ok\"}";
      return response;
    }
    if (request.path == "/_vigil/reset" && request.method == "POST") {
      bool allowed = reset_allowed_ || (is_loopback(request.remote_address) && accounts_.using_dev_credentials());
      if (!allowed || !reset_) return plain_json_error(403, "AccessDeniedException", "Reset is allowed only on loopback with development credentials, or when the config sets allow_reset = true.", request_id);
      reset_();
      HttpResponse response;
      response.set_header("Content-Type", "application/json");
      response.body = "{\"reset\":true}";
      return response;
    }
    for (auto& h : public_)
      if (auto r = h(request)) return std::move(*r);
    return plain_json_error(404, "NotFound", "Unknown Vigil endpoint", request_id);
  }

  auth::SigV4Request view = sigv4_view(request);

  auto scope = auth::parse_credential_scope(view);
  Route* route = route_for(request, scope ? std::string_view(scope->service) : std::string_view());
  if (!route) {
    if (!scope)
      for (auto& h : public_)
        if (auto r = h(request)) return std::move(*r);
    if (scope) return plain_json_error(400, "UnrecognizedClientException", "Vigil does not serve the service '" + scope->service + "'.", request_id);
    route = unsigned_s3_route(request);
    if (!route) return plain_json_error(400, "MissingAuthenticationTokenException", "Missing Authentication Token", request_id);
  }
  Service& service = *route->service;
  protocol::Codec& codec = codec_for(*route, request);
  view.s3_style_path = codec.name() == "rest-xml" && service.model().signing_name == "s3";
  protocol::ResponseContext response_context{request_id};
  HttpResponse response;

  // A spooled upload is judged as of its head (refuse_before_body() checked it then).
  const auto judged_at = request.head_authenticated_ms
                             ? std::chrono::system_clock::time_point(std::chrono::milliseconds(request.head_authenticated_ms))
                             : clock_.now();
  auth::AuthResult auth_result = auth::verify_sigv4(view, secret_lookup(), judged_at);
  // A spooled body's declared hash (x-amz-content-sha256), once the signature is known good,
  // as verify_sigv4() orders it for a body in memory.
  if (auth_result.ok() && request.body_file && auth_result.payload_kind == auth::PayloadKind::Hashed && !auth_result.content_sha256.empty() &&
      !auth::signatures_equal(ascii_lower(auth_result.content_sha256), body_file_sha256_hex(*request.body_file))) {
    auth_result.failure = auth::AuthFailure::ContentSha256Mismatch;
    auth_result.message = "The provided 'x-amz-content-sha256' header does not match what was computed.";
  }
  // Anonymous: no signature at all, to a service that takes such requests; a body declared as
  // signed chunks (STREAMING-AWS4-...) cannot be anonymous.
  const std::string_view declared_payload = request.header("x-amz-content-sha256");
  const bool anonymous = auth_result.failure == auth::AuthFailure::MissingAuthentication && service.accepts_anonymous() &&
                         declared_payload.substr(0, 14) != "STREAMING-AWS4";
  if (auth_result.failure != auth::AuthFailure::None && !anonymous) {
    codec.encode_error(auth_error(auth_result, codec), response_context, response);
    return response;
  }

  CallContext context;
  static const Principal kAnonymous = [] {
    Principal p;
    p.is_anonymous = true;
    return p;
  }();
  if (anonymous)  // nothing signed it; an unsigned aws-chunked body is still unwrapped
    auth_result.payload_kind = declared_payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" ? auth::PayloadKind::StreamingUnsignedTrailer
                                                                                         : auth::PayloadKind::Unsigned;
  context.principal = anonymous ? &kAnonymous : accounts_.find(auth_result.access_key_id);
  context.account_id = context.principal->account_id;  // anonymous: empty until the service knows whose resource it is
  context.region = anonymous ? accounts_.config().default_region : auth_result.region;
  context.request_id = request_id;
  context.source_ip = request.remote_address;
  context.user_agent = std::string(request.header("user-agent"));
  context.time = clock_.now_seconds();

  const protocol::Operation* operation = nullptr;
  Value input;
  bool decoded = false;
  std::optional<HttpRequest> unwrapped;  // S3 aws-chunked uploads: the payload without its framing
  std::optional<HttpRequest> in_memory;  // a spooled body the operation wants in memory
  try {
    const HttpRequest* source = &request;
    if (request.body_file) {
      // Operations are told apart by method, path, query and headers, never by the body.
      const protocol::Operation& op = codec.resolve_operation(request);
      if (service.takes_body_file(op.name)) {
        context.request_file = request.body_file;
        context.auth = &auth_result;
      } else {
        if (request.body_file->size() > Service::kMaxInMemoryBody) {
          operation = &op;
          throw service.body_too_large();
        }
        in_memory = request;
        in_memory->body_file.reset();
        in_memory->body.reserve(static_cast<size_t>(request.body_file->size()));
        std::string block(1 << 20, '\0');
        read_body_file(*request.body_file, block, [&](std::string_view piece) { in_memory->body.append(piece); });
        source = &*in_memory;
      }
    }
    if (!context.request_file) unwrapped = service.unwrap_payload(*source, auth_result);
    const HttpRequest& payload_request = unwrapped ? *unwrapped : *source;
    operation = &codec.resolve_operation(payload_request);
    // Hot operations: a hand-written decoder for the protocol straight into the handler's own
    // types, skipping the Value tree of the generic decode (one node and one string per log
    // event), the model walk of validate_input and the copies out of the tree. Bodies it
    // declines take the generic path below, which answers their errors.
    // A query request's parameters may also sit in the URL, and its body counts only as a
    // form: a raw handler sees the body alone, so it only gets requests whose body is all.
    const bool body_is_whole_input =
        codec.name() != "query" ||
        (payload_request.query.empty() && (payload_request.header("content-type").empty() ||
                                           payload_request.header("content-type").find("x-www-form-urlencoded") != std::string_view::npos));
    if (body_is_whole_input) {
      if (const RawHandler* raw = service.raw_handler(codec.name(), operation->name)) {
        try {
          if (std::optional<Value> output = (*raw)(context, payload_request.body, input)) {
            codec.encode_response(*output, *operation, response_context, response);
            if (audit_) audit_(ApiCall{&context, &service, operation->name, &input, &*output, nullptr});
            return response;
          }
        } catch (const AwsError&) {
          decoded = !input.is_null();
          throw;
        }
        input = Value();
      }
    }
    // An operation Vigil does not serve yet answers that first, whatever its input.
    const Handler* handler = service.handler(operation->name);
    if (!handler) throw service.unsupported_operation(operation->name);
    input = codec.decode_request(payload_request, *operation);
    decoded = true;
    service.precheck_input(operation->name, input);
    protocol::validate_input(input, operation->input, service.validation_error_code());
    Value output = (*handler)(context, input);
    codec.encode_response(output, *operation, response_context, response);
    response.file_body = std::move(context.response_file);
    // Statuses the model cannot express (S3 GetObject 206 Partial Content / 304 Not Modified).
    if (const Value* status = output.get(kHttpStatusMember); status && status->kind() == Value::Kind::Int)
      response.status = static_cast<int>(status->as_int());
    if (audit_) audit_(ApiCall{&context, &service, operation->name, &input, &output, nullptr});
  } catch (const AwsError& error) {
    codec.encode_error(error, response_context, response);
    if (audit_ && operation) audit_(ApiCall{&context, &service, operation->name, decoded ? &input : nullptr, nullptr, &error});
  }
  // A response to HEAD carries no body (S3 HeadBucket/HeadObject errors are status-only).
  if (request.method == "HEAD") {
    response.body.clear();
    response.file_body.reset();
  }
  return response;
}

}  // namespace vigil::server
