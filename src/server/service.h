// A service is a model (the wire contract), a table of handlers (typed request in, typed
// result out) and its semantics behind them. Handlers never see HTTP: the dispatcher decodes,
// validates, authenticates and audits around them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <optional>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "core/http_message.h"
#include "core/value.h"
#include "protocol/schema.h"
#include "server/accounts.h"

namespace vigil::server {

struct CallContext {
  const Principal* principal = nullptr;
  std::string account_id, region, request_id, source_ip, user_agent;
  double time = 0;  // epoch seconds when the request arrived
  // Resources the call touched, for the audit record's "resources" (type, name or ARN).
  std::vector<std::pair<std::string, std::string>> resources;
  // The output's payload as a file range rather than bytes in the Value (S3 GetObject): the
  // dispatcher hands it to the listener, which streams it, so the codec never copies it.
  std::shared_ptr<const FileBody> response_file;
  // The request's payload as a spooled file rather than bytes in the Value (S3 PutObject and
  // UploadPart above the listener's in-memory threshold), for operations whose service said
  // takes_body_file(). Still framed as sent (aws-chunked): `auth` says how to read it.
  std::shared_ptr<RequestBodyFile> request_file;
  const auth::AuthResult* auth = nullptr;  // the verified signature (payload kind, chunk signing key)
};

using Handler = std::function<Value(CallContext&, const Value& input)>;

// A handler may set this member of its output for an HTTP status the model cannot express
// (S3 GetObject's 206 Partial Content and 304 Not Modified); the dispatcher applies it.
inline constexpr std::string_view kHttpStatusMember = "__http_status";

// A hand-written decoder + handler for a hot operation, given the raw body (after any gzip inflation) of one protocol. It either
// answers (returns the output, having filled audit_input with what the audit record needs:
// the members audit_parameters() keeps) or declines (returns nullopt, having done nothing),
// and the dispatcher then takes the generic path: codec decode, model validation, Handler.
// A raw handler accepts exactly what the generic path accepts and declines whatever it is
// not sure of (malformed JSON, wrong types, broken constraints, rare members), so every
// error keeps the generic path's code and message by construction. It may throw AwsError
// only after it has decoded the request (audit_input set), i.e. for the handler's own
// semantic errors. Tested byte-for-byte against the generic path.
using RawHandler = std::function<std::optional<Value>(CallContext&, std::string_view body, Value& audit_input)>;

// How CloudTrail classifies an operation of this service.
enum class AuditClass { Management, Data, NotRecorded };

class Service {
 public:
  explicit Service(const protocol::ServiceModel& model) : model_(model), event_source_(model.endpoint_prefix + ".amazonaws.com") {}
  virtual ~Service() = default;

  const protocol::ServiceModel& model() const { return model_; }
  const Handler* handler(std::string_view operation) const {
    auto it = handlers_.find(std::string(operation));
    return it == handlers_.end() ? nullptr : &it->second;
  }
  // The raw handler of an operation for a protocol ("json", "query", "smithy-rpc-v2-cbor"), if any.
  const RawHandler* raw_handler(std::string_view protocol, std::string_view operation) const {
    if (raw_handlers_.empty()) return nullptr;
    auto it = raw_handlers_.find(std::string(protocol) + ' ' + std::string(operation));
    return it == raw_handlers_.end() ? nullptr : &it->second;
  }
  // The error code this service answers for a request that breaks the model's constraints.
  virtual std::string validation_error_code() const { return "ValidationException"; }
  // Called before the model's validation, for the few inputs a service words its own error
  // for (S3 GetObjectAttributes without attributes); throws AwsError.
  virtual void precheck_input(std::string_view operation, const Value& input) const {}
  // "logs.amazonaws.com": the eventSource of this service's CloudTrail records.
  // Built once: the recorder reads it up to three times per call.
  const std::string& event_source() const { return event_source_; }
  virtual AuditClass audit_class(std::string_view operation) const { return AuditClass::Management; }
  // The requestParameters of the CloudTrail record: `input` itself, or what the service keeps
  // of it, built in `scratch` (no copy per call when nothing is left out). Services leave out
  // payloads AWS does not record (log event contents, object bodies), which also keeps the
  // hot path cheap. Members keep their model names unless audit_names_from_model() is false.
  virtual const Value& audit_parameters(std::string_view operation, const Value& input, Value& scratch) const { return input; }
  // The responseElements of the record (of a call that is not read-only), the same way.
  virtual const Value& audit_elements(std::string_view operation, const Value& output, Value& scratch) const { return output; }
  // true: the record names structure members as AWS's records do, from the model's names with
  // the first letter lowercased ("LogGroupName" -> "logGroupName", "TrailARN" -> "trailARN");
  // false: audit_parameters/audit_elements already give AWS's names (S3: bucketName, key, the
  // wire names of query and x-amz-* header members).
  virtual bool audit_names_from_model() const { return true; }
  // Whether the record's responseElements carry the output (of a call that is not read-only).
  // false for outputs AWS never records: KMS plaintexts and ciphertexts.
  virtual bool audit_response(std::string_view operation) const { return true; }
  // AWS's error for an operation of the model that Vigil does not serve yet.
  virtual AwsError unsupported_operation(const std::string& operation) const {
    return AwsError("UnknownOperationException", "Vigil does not support " + operation + " yet (see docs/coverage.md).", 400);
  }
  // Unwraps a transport framing of the payload after authentication (S3's aws-chunked
  // uploads, whose chunk signatures chain from the verified seed signature). nullopt: the
  // request is used as it is.
  virtual std::optional<HttpRequest> unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const { return std::nullopt; }
  // Whether the operation reads a body the listener spooled to a file itself (from
  // CallContext::request_file, unwrap_payload() not applied). Otherwise the dispatcher reads a
  // spooled body into memory first, up to kMaxInMemoryBody.
  virtual bool takes_body_file(std::string_view operation) const { return false; }
  // Whether a request with no signature at all reaches the handlers as the anonymous principal
  // (CallContext::principal->is_anonymous, account_id empty) instead of being refused: S3,
  // whose bucket policies may grant Principal "*". The service decides what it may do.
  virtual bool accepts_anonymous() const { return false; }
  // The error for a spooled body too large to be read into memory for such an operation.
  virtual AwsError body_too_large() const {
    return AwsError("RequestEntityTooLarge", "Request body too large", 413);
  }
  static constexpr uint64_t kMaxInMemoryBody = 64u << 20;  // the listener's in-memory limit
  // Forget in-memory state after the store was cleared (POST /_vigil/reset).
  virtual void reset() {}

 protected:
  void on(std::string operation, Handler handler) { handlers_.emplace(std::move(operation), std::move(handler)); }
  // A fast path for one protocol's requests of an operation that also has a generic handler
  // (which other protocols, and bodies the raw handler declines, still use).
  void on_raw(std::string_view protocol, std::string_view operation, RawHandler handler) {
    raw_handlers_.emplace(std::string(protocol) + ' ' + std::string(operation), std::move(handler));
  }

 private:
  const protocol::ServiceModel& model_;
  const std::string event_source_;
  std::unordered_map<std::string, Handler> handlers_;
  std::unordered_map<std::string, RawHandler> raw_handlers_;  // by "protocol operation"
};

// Whether an operation only reads, by AWS's naming convention (CloudTrail's readOnly).
inline bool is_read_only_operation(std::string_view op) {
  for (std::string_view prefix : {"Describe", "Get", "List", "Filter", "Lookup", "Test", "Head", "Search", "BatchGet", "Select"})
    if (op.substr(0, prefix.size()) == prefix) return true;
  return false;
}

}  // namespace vigil::server
