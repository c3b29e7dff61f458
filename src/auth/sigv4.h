// AWS Signature Version 4 verification (server side): the Authorization-header form and the
// presigned query form, with the error codes and messages AWS answers for each protocol family.
//
// Canonicalisation follows what AWS's SDKs sign (botocore is the reference here):
//  - non-S3 services: the raw (still percent-encoded) path has its dot segments and empty
//    segments removed, then every byte outside RFC 3986's unreserved set and '/' is encoded
//    again -- so a wire path "/a%3Ab" canonicalises to "/a%253Ab" ("double encoding").
//  - S3 (SigV4Request::s3_style_path): the raw path is used exactly as received.
//  - the query string is decoded and re-encoded per RFC 3986 (unreserved set only, uppercase
//    hex, '+' read as a space), pairs sorted by encoded key then encoded value.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::auth {

// A view of the HTTP request as received. Nothing is copied; the viewed data must outlive the
// call to verify_sigv4(). For HTTP/2, pass ":authority" as a "host" header.
struct SigV4Request {
  std::string_view method;
  std::string_view raw_path;   // path as on the request line, still percent-encoded, without '?'
  std::string_view raw_query;  // after '?', still encoded; empty if none
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // as received (any case, may repeat)
  std::string_view body;  // full body (for the payload hash when x-amz-content-sha256 is absent)
  bool s3_style_path = false;  // S3 rules: raw path as-is, x-amz-content-sha256 required,
                               // all x-amz-* headers signed, presigned payload UNSIGNED-PAYLOAD
  // False when the body is streamed to the handler after authentication. Then a hex
  // x-amz-content-sha256 cannot be checked here and the caller must compare it with the body
  // it reads (content_sha256_matches()).
  bool body_complete = true;
};

enum class AuthFailure {
  None,
  MissingAuthentication,   // neither an Authorization header nor presigned query parameters
  MalformedAuthorization,  // e.g. both auth mechanisms, bad X-Amz-Expires
  UnknownAccessKey,
  SignatureMismatch,
  RequestExpired /*skew*/,
  PresignedExpired,
  IncompleteSignature /*missing parts*/,
  UnsupportedAlgorithm,
  // Added beside the brief's set:
  PresignedNotYetValid,   // presigned X-Amz-Date more than 15 minutes in the future
  HeadersNotSigned,       // S3: an x-amz-* header is present but not in SignedHeaders
  MissingContentSha256,   // S3 header form without x-amz-content-sha256
  InvalidContentSha256,   // S3: x-amz-content-sha256 neither a sha256 hex nor a known literal
  ContentSha256Mismatch,  // x-amz-content-sha256 (hex) differs from the body's hash
};

// Finer reason behind a failure. JSON and Query services word most of these differently from
// S3 (which also uses other error codes), so aws_error_for() needs it.
enum class AuthDetail {
  None,
  MissingHeaderParts,      // Credential / Signature / SignedHeaders / date missing (header form)
  MissingQueryParts,       // a required X-Amz-* query parameter missing (presigned)
  ParameterWithoutEquals,  // Authorization token without '='
  MalformedCredential,     // credential is not keyid/date/region/service/term
  CredentialTerminator,    // term is not aws4_request
  CredentialDateMismatch,  // scope date differs from the request date
  MissingDate,             // header form: no X-Amz-Date nor Date
  MalformedDate,
  ExpiresNotANumber,
  ExpiresNegative,
  ExpiresTooLarge,
  HostNotSigned,
  BothAuthMechanisms,
  SigV2,                   // "Authorization: AWS AKID:sig", or an S3 SigV2 presigned URL
  QueryAlgorithm,          // X-Amz-Algorithm other than AWS4-HMAC-SHA256
};

// What x-amz-content-sha256 (or the presigned default) said about the payload.
enum class PayloadKind {
  Hashed,                   // a hex SHA-256 of the body (given, or computed from the body)
  Unsigned,                 // UNSIGNED-PAYLOAD
  StreamingSigned,          // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: verify chunk signatures
  StreamingSignedTrailer,   // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  StreamingUnsignedTrailer, // STREAMING-UNSIGNED-PAYLOAD-TRAILER
  Other,                    // anything else the client signed (non-S3 services only)
};

struct AuthResult {
  AuthFailure failure = AuthFailure::None;
  AuthDetail detail = AuthDetail::None;
  std::string message;  // the message JSON/Query services give for that failure; S3 words
                        // its own (see aws_error_for())
  std::string access_key_id, region, service, amz_date;  // from the credential scope / request
  std::string session_token;
  bool presigned = false;
  // for S3 chunked uploads: signing key + seed signature (+ scope and timestamp above)
  std::string signing_key;     // raw 32 bytes; set only for STREAMING-AWS4-HMAC-SHA256-* payloads
  std::string seed_signature;  // hex; the request's signature
  std::string content_sha256;  // value of x-amz-content-sha256 if present
  // x-amz-trailer (lowercase, trimmed) of a STREAMING-*-TRAILER payload: the trailing header
  // the aws-chunked body ends with (S3: x-amz-checksum-<algorithm>). Empty otherwise.
  std::string trailer;
  // Added:
  std::string credential_scope;  // "20260101/us-east-1/logs/aws4_request"
  PayloadKind payload_kind = PayloadKind::Hashed;
  std::chrono::system_clock::time_point request_time{};  // X-Amz-Date (or Date) as a time
  std::int64_t expires_seconds = 0;                       // presigned X-Amz-Expires (0 if absent)
  std::chrono::system_clock::time_point server_time{};    // the `now` the request was judged at
  std::vector<std::string> unsigned_headers;  // for HeadersNotSigned
  // Set on SignatureMismatch, for S3's diagnostic elements (what the server computed).
  std::string canonical_request, string_to_sign;

  bool ok() const { return failure == AuthFailure::None; }
};

// Returns the secret for an access key id, or nullopt if unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Verifies the request's SigV4 signature (header or presigned form) as of `now`.
// Requests whose X-Amz-Date differs from `now` by more than 15 minutes are rejected; presigned
// requests are rejected when X-Amz-Date is more than 15 minutes ahead or `now` is past
// X-Amz-Date + X-Amz-Expires (at most 604800 s; required for S3, 900 s when absent elsewhere).
AuthResult verify_sigv4(const SigV4Request& request, const SecretLookup& lookup,
                        std::chrono::system_clock::time_point now);

struct CredentialScope {
  std::string access_key_id, date, region, service;
};
// Where a request claims a region/service without auth (used by routing), parse only the
// credential scope (Authorization header's Credential=, else the X-Amz-Credential parameter).
std::optional<CredentialScope> parse_credential_scope(const SigV4Request& request);

// AWS's error code + HTTP status for a failure, per protocol family, as real AWS answers them.
enum class ProtocolFamily { Json /*awsJson1.0/1.1, rest-json, rpc-v2-cbor*/, Query /*query/ec2 XML*/, S3 /*rest-xml S3*/ };
struct AwsAuthError {
  std::string code;
  int http_status = 200;
  std::string message;
  // Extra elements S3 puts in its <Error> body (e.g. RequestTime, ServerTime,
  // MaxAllowedSkewMilliseconds for RequestTimeTooSkewed). Empty for other families.
  std::vector<std::pair<std::string, std::string>> extra;
};
AwsAuthError aws_error_for(const AuthResult& result, ProtocolFamily family);

// --- helpers for the S3 layer ---------------------------------------------------------------

// Signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
// HMAC(signing_key, "AWS4-HMAC-SHA256-PAYLOAD\n" + amz_date + "\n" + scope + "\n" +
//      previous_signature + "\n" + hex(sha256("")) + "\n" + hex(sha256(chunk))), as hex.
// The first chunk's previous_signature is AuthResult::seed_signature; the final chunk is empty.
std::string chunk_signature(std::string_view signing_key, std::string_view amz_date,
                            std::string_view credential_scope, std::string_view previous_signature,
                            std::string_view chunk_data);

// The same from the chunk's SHA-256 (lowercase hex), for chunks hashed as they stream in.
std::string chunk_signature_from_hash(std::string_view signing_key, std::string_view amz_date,
                                      std::string_view credential_scope, std::string_view previous_signature,
                                      std::string_view chunk_sha256_hex);

// Signature of the trailing headers of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body
// (x-amz-trailer-signature): HMAC(signing_key, "AWS4-HMAC-SHA256-TRAILER\n" + amz_date + "\n" +
// scope + "\n" + previous_signature + "\n" + hex(sha256(canonical_trailers))), as hex, where
// previous_signature is the final (empty) chunk's and canonical_trailers is "name:value\n" for
// each trailing header as sent, names lowercase.
std::string trailer_signature(std::string_view signing_key, std::string_view amz_date, std::string_view credential_scope,
                              std::string_view previous_signature, std::string_view canonical_trailers);

// Incremental SHA-256, for bodies read in pieces (spooled uploads, aws-chunked chunks). Holds
// one OpenSSL digest context (a few hundred bytes) whatever the input's size.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // The digest of everything given so far (32 raw bytes); starts the next digest afresh.
  std::string finish();
  std::string finish_hex();

 private:
  void* ctx_;  // EVP_MD_CTX (OpenSSL stays out of this header)
};

// Constant-time comparison (CRYPTO_memcmp); false when the lengths differ.
bool signatures_equal(std::string_view a, std::string_view b);

// True when `declared` (a 64-hex x-amz-content-sha256) is the SHA-256 of `body`.
bool content_sha256_matches(std::string_view declared, std::string_view body);

// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

}  // namespace vigil::auth
