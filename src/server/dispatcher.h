// One request's way through: route to a service (credential scope, X-Amz-Target, path),
// authenticate (SigV4), pick the codec, decode, validate, run the handler, encode, audit.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "core/clock.h"
#include "core/http_message.h"
#include "protocol/codec.h"
#include "protocol/rest_codec.h"
#include "server/accounts.h"
#include "server/service.h"

namespace vigil::server {

// What the dispatcher tells the audit recorder about each authenticated call.
struct ApiCall {
  const CallContext* context;
  const Service* service;
  std::string_view operation;
  const Value* input;      // nullptr when the request could not be decoded
  const Value* output;     // nullptr on error
  const AwsError* error;   // nullptr on success
};
using AuditSink = std::function<void(const ApiCall&)>;

class Dispatcher {
 public:
  Dispatcher(const Accounts& accounts, const Clock& clock);

  // Services are routed by their model's signing name ("logs", "monitoring", "s3", ...).
  // rest_options: the options of the service's rest-json / rest-xml codecs instead of
  // protocol::default_rest_options() (S3's virtual-host names from the config).
  void add_service(Service* service, const protocol::RestOptions* rest_options = nullptr);
  void set_audit_sink(AuditSink sink) { audit_ = std::move(sink); }
  // POST /_vigil/reset: allowed on loopback with dev credentials, or when the config says so.
  void set_reset_handler(std::function<void()> reset, bool allowed) {
    reset_ = std::move(reset);
    reset_allowed_ = allowed;
  }

  // Unauthenticated endpoints of a service (SNS's signing certificate, SubscribeURL and
  // UnsubscribeURL): tried for unknown /_vigil/ paths and for unsigned requests; nullopt passes.
  void add_public_handler(std::function<std::optional<HttpResponse>(const HttpRequest&)> handler) { public_.push_back(std::move(handler)); }

  HttpResponse handle(const HttpRequest& request);
  // For a request whose body is about to be spooled (an S3 upload of up to 5 GB): checks the
  // signature from the head alone (it covers the declared x-amz-content-sha256, not the body
  // itself, which handle() compares after). Answers the error response when the head fails,
  // so nothing is written to disk for it; else nullopt and sets `authenticated_ms`. Cost: one
  // SigV4 verification (a few HMACs), on the listener's I/O thread, once per large upload.
  std::optional<HttpResponse> refuse_before_body(const HttpRequest& head, int64_t& authenticated_ms);

 private:
  struct Route {
    Service* service;
    std::unordered_map<std::string, std::unique_ptr<protocol::Codec>> codecs;  // by protocol
  };
  Route* route_for(const HttpRequest& request, std::string_view signing_service);
  Route* unsigned_s3_route(const HttpRequest& request);
  static AwsError auth_error(const auth::AuthResult& result, const protocol::Codec& codec);
  protocol::Codec& codec_for(Route& route, const HttpRequest& request);
  HttpResponse handle_internal(const HttpRequest& request);
  static auth::SigV4Request sigv4_view(const HttpRequest& request);
  auth::SecretLookup secret_lookup() const;

  const Accounts& accounts_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Route>> routes_;
  std::unordered_map<std::string, Route*> by_signing_name_;
  std::unordered_map<std::string, Route*> by_target_prefix_;
  AuditSink audit_;
  std::function<void()> reset_;
  bool reset_allowed_ = false;
  std::vector<std::function<std::optional<HttpResponse>(const HttpRequest&)>> public_;
};

}  // namespace vigil::server
