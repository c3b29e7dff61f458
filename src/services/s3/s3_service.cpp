#include "services/s3/s3_service.h"

#include "services/s3/aws_chunked.h"
#include "services/s3/bucket_policy.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <map>
#include <memory>
#include <tuple>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/arn.h"
#include "core/iam_policy.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "services/s3/record_encoding.h"
#include "services/s3/s3_errors.h"

namespace vigil::s3 {

using server::CallContext;

namespace {

AwsError access_denied() { return AwsError("AccessDenied", "Access Denied", 403); }
AwsError bad_part_number(const Value& in) {
  const Value* given = in.get("PartNumber");
  return AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400)
      .with("ArgumentName", "partNumber")
      .with("ArgumentValue", given && given->kind() == Value::Kind::Int ? std::to_string(given->as_int()) : std::string(in.str("PartNumber")));
}

// Content-MD5, when given, must be the MD5 of what arrived (PutObject, UploadPart).
void check_content_md5(const Value& in, std::string_view body) {
  if (const Value* md5 = in.get("ContentMD5"); md5 && md5->is_string()) {
    auto digest = base64_decode(md5->as_string());
    if (!digest || digest->size() != 16) throw AwsError("InvalidDigest", "The Content-MD5 you specified was not valid.", 400);
    if (hex_encode(*digest) != md5_hex(body)) throw AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400);
  }
}

// The same against the MD5 of a body that was streamed to a file (16 raw bytes).
void check_content_md5_digest(const Value& in, const std::string& md5) {
  if (const Value* given = in.get("ContentMD5"); given && given->is_string()) {
    auto digest = base64_decode(given->as_string());
    if (!digest || digest->size() != 16) throw AwsError("InvalidDigest", "The Content-MD5 you specified was not valid.", 400);
    if (*digest != md5) throw AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400);
  }
}

AwsError entity_too_large() { return AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400); }

bool is_streaming(auth::PayloadKind kind) {
  return kind == auth::PayloadKind::StreamingSigned || kind == auth::PayloadKind::StreamingSignedTrailer ||
         kind == auth::PayloadKind::StreamingUnsignedTrailer;
}

std::optional<uint64_t> decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Condition keys S3 gives object writes, from the request's headers.
std::map<std::string, std::string> write_conditions(const Value& in) {
  std::map<std::string, std::string> out;
  for (auto [member, key] : {std::pair{"ACL", "s3:x-amz-acl"}, {"ServerSideEncryption", "s3:x-amz-server-side-encryption"},
                             {"SSEKMSKeyId", "s3:x-amz-server-side-encryption-aws-kms-key-id"}, {"StorageClass", "s3:x-amz-storage-class"},
                             {"WebsiteRedirectLocation", "s3:x-amz-website-redirect-location"}, {"IfMatch", "s3:if-match"},
                             {"IfNoneMatch", "s3:if-none-match"}})
    if (const Value* v = in.get(member); v && v->is_string()) out[key] = v->as_string();
  return out;
}

std::string_view body_of(const Value& in) {
  const Value* body_value = in.get("Body");
  return body_value && body_value->kind() == Value::Kind::Blob ? std::string_view(body_value->as_blob().bytes) : std::string_view();
}

// x-amz-copy-source-range: only "bytes=first-last" (no suffix or open ranges), inside the source.
std::pair<uint64_t, uint64_t> copy_source_range(const std::string& text, uint64_t size) {
  auto bad = [] {
    return AwsError("InvalidArgument",
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                    400);
  };
  if (text.rfind("bytes=", 0) != 0) throw bad();
  std::string spec = text.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == spec.size()) throw bad();
  auto number = [&](std::string_view s) {
    if (s.size() > 19) throw bad();
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') throw bad();
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  };
  uint64_t first = number(std::string_view(spec).substr(0, dash)), last = number(std::string_view(spec).substr(dash + 1));
  if (first > last || last >= size)
    throw AwsError("InvalidArgument", "Range specified is not valid for source object of size: " + std::to_string(size), 400);
  return {first, last - first + 1};
}

// Real S3 identifies owners by a 64-hex canonical user id; derive a stable one per account.
std::string canonical_id(const std::string& account) {
  std::string h = md5_hex("vigil-canonical-user:" + account);
  return h + md5_hex(h);
}
Value owner_of(const std::string& account) {
  return Value::map().set("DisplayName", account).set("ID", canonical_id(account));
}

// Headers stored with an object and answered on GET/HEAD.
constexpr const char* kStoredHeaders[] = {"CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage"};

std::string text_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: return v.as_string();
    case Value::Kind::Timestamp: return format_rfc822(v.as_timestamp().epoch_seconds);
    case Value::Kind::Int: return std::to_string(v.as_int());
    default: return {};
  }
}

void take_metadata(const Value& in, ObjectRecord& meta) {
  meta.content_type = std::string(in.str("ContentType", "binary/octet-stream"));
  if (const Value* m = in.get("Metadata"); m && m->is_map())
    for (const auto& [k, v] : m->as_map()) meta.metadata.emplace_back(k, text_of(v));
  for (const char* h : kStoredHeaders)
    if (const Value* v = in.get(h); v && !v->is_null()) {
      std::string t = text_of(*v);
      // aws-chunked is the transfer framing, not the object's encoding.
      if (std::string_view(h) == "ContentEncoding") {
        std::string kept;
        size_t start = 0;
        while (start <= t.size()) {
          size_t comma = t.find(',', start);
          std::string item = t.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          while (!item.empty() && item.front() == ' ') item.erase(0, 1);
          if (!item.empty() && item != "aws-chunked") kept += (kept.empty() ? "" : ",") + item;
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        t = kept;
      }
      if (!t.empty()) meta.headers.emplace_back(h, t);
    }
}

std::optional<double> time_member(const Value& in, std::string_view name) {
  const Value* v = in.get(name);
  if (!v || v->is_null()) return std::nullopt;
  if (v->kind() == Value::Kind::Timestamp) return v->as_timestamp().epoch_seconds;
  if (v->is_string()) return parse_any_timestamp(v->as_string());
  return std::nullopt;
}

std::optional<std::string> string_member(const Value& in, std::string_view name) {
  const Value* v = in.get(name);
  if (!v || !v->is_string()) return std::nullopt;
  return v->as_string();
}

std::string url_encode_if(bool url, const std::string& s) { return url ? percent_encode(s, true) : s; }

// If-Match / If-None-Match of an object write (PutObject, CopyObject, CompleteMultipartUpload).
// S3 takes If-None-Match only as "*" and never together with If-Match: it answers anything
// else NotImplemented, and so does this.
WriteCondition write_condition_of(const Value& in) {
  WriteCondition c;
  c.if_match = string_member(in, "IfMatch");
  if (auto none = string_member(in, "IfNoneMatch")) {
    if (record::unquote_etag(*none) != "*" || c.if_match)
      throw AwsError("NotImplemented", "A header you provided implies functionality that is not implemented", 501);
    c.if_none_match = true;
  }
  return c;
}

// The early check of a conditional write, before its body is stored; the commit checks again.
void check_write_condition_now(const ObjectStore& objects, const WriteCondition& c, const std::string& bucket, const std::string& key) {
  if (c.empty()) return;
  auto current = objects.head(bucket, key);
  check_write_condition(c, current ? &*current : nullptr, false, key);
}

// Encryption (object_store.h, ObjectEncryption): every object is stored encrypted (sse.h).
// SSE-S3 (AES256) is S3's default since January 2023; SSE-KMS (aws:kms) uses the account's AWS
// managed key (aws/s3), the one KMS key Vigil has. DSSE-KMS's second layer and SSE-C's
// customer keys are not here: NotImplemented (501), the answer other S3 features Vigil lacks
// give, so a client can tell "not here" from a malformed request (S3 itself would take them).
constexpr std::string_view kSseS3 = "AES256";
constexpr std::string_view kSseKms = "aws:kms";

AwsError dsse_not_implemented() {
  return AwsError("NotImplemented", "Dual-layer server-side encryption (aws:kms:dsse) is not implemented; AES256 and aws:kms are supported", 501);
}
// InvalidArgument naming the header and value S3 refused.
AwsError invalid_header(const std::string& message, std::string_view header, std::string_view value) {
  return AwsError("InvalidArgument", message, 400).with("ArgumentName", std::string(header)).with("ArgumentValue", std::string(value));
}

// x-amz-server-side-encryption-context: base64 of a JSON object of strings (S3 refuses others).
void check_encryption_context(const std::string& context) {
  constexpr std::string_view header = "x-amz-server-side-encryption-context";
  auto invalid = [&] {
    return invalid_header("The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
                        header, context);
  };
  auto json = base64_decode(context);
  if (!json) throw invalid();
  Value doc;
  try {
    doc = protocol::json_to_value(*json, nullptr);
  } catch (const AwsError&) {
    throw invalid();
  }
  if (!doc.is_map()) throw invalid();
  for (const auto& [name, value] : doc.as_map())
    if (!value.is_string()) throw invalid();
}

// The x-amz-server-side-encryption* headers of an object write (PutObject, CopyObject's
// destination, CreateMultipartUpload), checked as S3 does.
EncryptionRequest encryption_request(const Value& in) {
  EncryptionRequest r;
  if (const Value* c = in.get("SSECustomerAlgorithm"); c && c->is_string())
    throw AwsError("NotImplemented", "Server-side encryption with customer-provided keys (SSE-C) is not implemented", 501);
  if (auto algorithm = string_member(in, "ServerSideEncryption")) {
    if (*algorithm == "aws:kms:dsse") throw dsse_not_implemented();
    if (*algorithm != kSseS3 && *algorithm != kSseKms)
      throw invalid_header("The encryption method specified is not supported", "x-amz-server-side-encryption", *algorithm);
    r.algorithm = *algorithm;
  }
  auto key = string_member(in, "SSEKMSKeyId");
  auto context = string_member(in, "SSEKMSEncryptionContext");
  if ((key || context) && r.algorithm != kSseKms)
    throw invalid_header("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                       key ? "x-amz-server-side-encryption-aws-kms-key-id" : "x-amz-server-side-encryption-context", key ? *key : *context);
  if (key) r.kms_key_id = *key;
  if (context) {
    check_encryption_context(*context);
    r.context = *context;
  }
  if (const Value* b = in.get("BucketKeyEnabled"); b && b->kind() == Value::Kind::Bool) r.bucket_key = b->as_bool();
  return r;
}

// What S3 answers about an object's (or upload's) encryption: the algorithm, and for SSE-KMS
// the key's ARN, the bucket-key flag when set and (on the writes that return it) the context
// the writer gave.
void set_encryption_members(Value& out, const ObjectEncryption& e, bool with_context = false) {
  if (e.algorithm.empty() || e.algorithm == kSseS3) {
    out.set("ServerSideEncryption", std::string(kSseS3));
    return;
  }
  out.set("ServerSideEncryption", e.algorithm).set("SSEKMSKeyId", e.kms_key_arn);
  if (e.bucket_key) out.set("BucketKeyEnabled", true);
  if (with_context && !e.context.empty()) out.set("SSEKMSEncryptionContext", e.context);
}

// PutBucketEncryption's configuration: one rule (S3 takes a single rule) whose default
// algorithm is AES256 or aws:kms, with a KMSMasterKeyID only for aws:kms. The key is kept as
// given: S3 checks it when an object is written with it, not here.
BucketEncryption parse_bucket_encryption(const Value& in) {
  auto malformed = [] {
    return AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400);
  };
  const Value* config = in.get("ServerSideEncryptionConfiguration");
  const Value* rules = config ? config->get("Rules") : nullptr;
  if (!rules || !rules->is_list() || rules->as_list().size() != 1) throw malformed();
  const Value& rule = rules->as_list().front();
  const Value* by_default = rule.get("ApplyServerSideEncryptionByDefault");
  const Value* algorithm = by_default ? by_default->get("SSEAlgorithm") : nullptr;
  if (!algorithm || !algorithm->is_string()) throw malformed();
  BucketEncryption e;
  e.algorithm = algorithm->as_string();
  if (e.algorithm == "aws:kms:dsse") throw dsse_not_implemented();
  if (e.algorithm != kSseS3 && e.algorithm != kSseKms) throw malformed();
  if (const Value* kms = by_default->get("KMSMasterKeyID"); kms && kms->is_string() && !kms->as_string().empty()) {
    if (e.algorithm != kSseKms)
      throw AwsError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse", 400);
    e.kms_key_id = kms->as_string();
  }
  const Value* bucket_key = rule.get("BucketKeyEnabled");
  e.bucket_key = bucket_key && bucket_key->kind() == Value::Kind::Bool && bucket_key->as_bool();
  return e;
}

// ---- additional checksums (x-amz-checksum-*) ----------------------------------------------

// Algorithms of the model Vigil does not compute: NotImplemented, as other missing features
// (S3 itself takes them, so a client error would mislead).
constexpr std::string_view kUnsupportedChecksums[] = {"SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128"};
constexpr std::string_view kChecksumHeaderPrefix = "x-amz-checksum-";

AwsError checksum_not_implemented(std::string_view name) {
  return AwsError("NotImplemented",
                  "The " + std::string(name) + " checksum algorithm is not implemented; CRC32, CRC32C, CRC64NVME, SHA1 and SHA256 are", 501);
}
AwsError invalid_request(const std::string& message) { return AwsError("InvalidRequest", message, 400); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
std::string checksum_member(ChecksumAlgorithm a) { return "Checksum" + std::string(checksum_name(a)); }
std::string checksum_header(ChecksumAlgorithm a) { return std::string(kChecksumHeaderPrefix) + lower(checksum_name(a)); }

// An algorithm named by a request (x-amz-sdk-checksum-algorithm, x-amz-checksum-algorithm,
// x-amz-trailer): NotImplemented for the model's algorithms Vigil lacks, else InvalidRequest
// with `invalid`.
ChecksumAlgorithm named_algorithm(std::string_view name, const std::string& invalid) {
  if (auto a = checksum_algorithm(name)) return *a;
  for (std::string_view u : kUnsupportedChecksums)
    if (lower(u) == lower(name)) throw checksum_not_implemented(u);
  throw invalid_request(invalid);
}

// A checksum value as given (base64 of the digest's size): InvalidRequest otherwise.
std::string checksum_digest_of(ChecksumAlgorithm a, std::string_view base64, std::string_view where) {
  auto raw = base64_decode(base64);
  if (!raw || raw->size() != checksum_size(a))
    throw invalid_request("Value for " + checksum_header(a) + " " + std::string(where) + " is invalid.");
  return *raw;
}

ChecksumRequest requested_checksum(const Value& in, const auth::AuthResult* auth) {
  ChecksumRequest r;
  int given = 0;
  for (std::string_view u : kUnsupportedChecksums)
    if (in.has("Checksum" + std::string(u))) throw checksum_not_implemented(u);
  for (ChecksumAlgorithm a : kChecksumAlgorithms)
    if (auto v = string_member(in, checksum_member(a))) {
      ++given;
      r.algorithm = a;
      r.value = *v;
    }
  if (auth && !auth->trailer.empty()) {
    std::string_view trailer = auth->trailer;
    if (trailer.substr(0, kChecksumHeaderPrefix.size()) != kChecksumHeaderPrefix)
      throw invalid_request("The value specified in the x-amz-trailer header is not supported");
    r.algorithm = named_algorithm(trailer.substr(kChecksumHeaderPrefix.size()), "The value specified in the x-amz-trailer header is not supported");
    r.trailer = true;
    r.value.reset();
    ++given;
  }
  if (given > 1) throw invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
  if (r.value) r.value = checksum_digest_of(r.algorithm, *r.value, "header");
  // Only an algorithm: S3 computes the checksum and stores it (nothing to compare it with).
  if (given == 0)
    if (auto sdk = string_member(in, "ChecksumAlgorithm"))
      r.algorithm = named_algorithm(*sdk, "Value for x-amz-sdk-checksum-algorithm header is invalid.");
  return r;
}

// The payload's digest against the value given: BadDigest, with S3's message.
void verify_checksum(ChecksumAlgorithm a, const std::string& expected_raw, const std::string& digest) {
  if (expected_raw != digest)
    throw AwsError("BadDigest", "The " + std::string(checksum_name(a)) + " you specified did not match the calculated checksum.", 400);
}

StoredChecksum full_object_checksum(ChecksumAlgorithm a, const std::string& digest) {
  return StoredChecksum{std::string(checksum_name(a)), base64_encode(digest), std::string(kFullObject)};
}

// Checksum<ALGORITHM> (and ChecksumType when `with_type`) of a stored checksum into an output.
void set_checksum_members(Value& out, const StoredChecksum& c, bool with_type = true) {
  if (c.empty() || c.value.empty()) return;
  out.set("Checksum" + c.algorithm, c.value);
  if (with_type && !c.type.empty()) out.set("ChecksumType", c.type);
}

// The one checksum member (Checksum<ALGORITHM>) of a structure (a CompleteMultipartUpload part,
// its request): algorithm and base64 value, empty when none. Several: InvalidRequest.
StoredChecksum listed_checksum(const Value& v) {
  StoredChecksum out;
  for (std::string_view u : kUnsupportedChecksums)
    if (v.has("Checksum" + std::string(u))) throw checksum_not_implemented(u);
  for (ChecksumAlgorithm a : kChecksumAlgorithms)
    if (auto value = string_member(v, checksum_member(a))) {
      if (!out.empty()) throw invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
      out.algorithm = std::string(checksum_name(a));
      out.value = *value;
    }
  return out;
}

// The value of the trailer x-amz-trailer declared, among those an aws-chunked body ended with;
// a body without it is malformed (the client promised it).
std::string declared_trailer(const std::vector<Trailer>& trailers, std::string_view name) {
  for (const auto& [k, v] : trailers)
    if (k == name) return v;
  throw AwsError("MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema.", 400);
}

// The listener's digest of a plain spooled body (SpoolPlan::digest), found again by
// with_request_file().
class SpoolChecksum : public BodyDigest {
 public:
  explicit SpoolChecksum(ChecksumAlgorithm a) : checksum_(a) {}
  void update(const char* data, size_t n) override { checksum_.update(std::string_view(data, n)); }
  ChecksumAlgorithm algorithm() const { return checksum_.algorithm(); }
  std::string digest() { return checksum_.digest(); }

 private:
  Checksummer checksum_;
};

}  // namespace

S3Service::S3Service(ObjectStore& objects, MultipartUploads& uploads)
    : Service(*protocol::embedded_model("s3")), objects_(objects), uploads_(uploads) {
  on("CreateBucket", [this](CallContext& ctx, const Value& in) { return create_bucket(ctx, in); });
  on("DeleteBucket", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:DeleteBucket");
    if (!objects_.delete_bucket_if_empty(b.name)) throw AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409);
    return Value::map();
  });
  on("HeadBucket", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:ListBucket");  // HeadBucket needs ListBucket in AWS
    return Value::map().set("BucketRegion", b.region).set("AccessPointAlias", false);
  });
  on("ListBuckets", [this](CallContext& ctx, const Value& in) { return list_buckets(ctx, in); });
  on("GetBucketLocation", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:GetBucketLocation");
    // us-east-1 is answered as an empty element.
    Value out = Value::map();
    if (b.region != "us-east-1") out.set("LocationConstraint", b.region);
    return out;
  });
  on("PutObject", [this](CallContext& ctx, const Value& in) { return put_object(ctx, in); });
  on("GetObject", [this](CallContext& ctx, const Value& in) { return get_object(ctx, in, true); });
  on("HeadObject", [this](CallContext& ctx, const Value& in) { return get_object(ctx, in, false); });
  on("GetObjectAttributes", [this](CallContext& ctx, const Value& in) { return get_object_attributes(ctx, in); });
  on("DeleteObject", [this](CallContext& ctx, const Value& in) {
    std::string key(in.str("Key"));
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:DeleteObject", &key);
    objects_.remove(b.name, key);  // deleting a missing key succeeds too
    ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
    return Value::map();
  });
  on("DeleteObjects", [this](CallContext& ctx, const Value& in) { return delete_objects(ctx, in); });
  on("CopyObject", [this](CallContext& ctx, const Value& in) { return copy_object(ctx, in); });
  on("ListObjects", [this](CallContext& ctx, const Value& in) { return list_objects(ctx, in, false); });
  on("ListObjectsV2", [this](CallContext& ctx, const Value& in) { return list_objects(ctx, in, true); });
  on("CreateMultipartUpload", [this](CallContext& ctx, const Value& in) { return create_multipart_upload(ctx, in); });
  on("UploadPart", [this](CallContext& ctx, const Value& in) { return upload_part(ctx, in, false); });
  on("UploadPartCopy", [this](CallContext& ctx, const Value& in) { return upload_part(ctx, in, true); });
  on("CompleteMultipartUpload", [this](CallContext& ctx, const Value& in) { return complete_multipart_upload(ctx, in); });
  on("AbortMultipartUpload", [this](CallContext& ctx, const Value& in) {
    std::string key(in.str("Key"));
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:AbortMultipartUpload", &key);
    if (!uploads_.abort(b.name, key, in.str("UploadId"))) throw no_such_upload(in.str("UploadId"));
    ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
    return Value::map();
  });
  on("ListMultipartUploads", [this](CallContext& ctx, const Value& in) { return list_multipart_uploads(ctx, in); });
  on("ListParts", [this](CallContext& ctx, const Value& in) { return list_parts(ctx, in); });
  // Bucket policies: only the owner's account reads or changes them; another account the
  // policy lets through gets 405, as in S3.
  on("PutBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = policy_bucket(ctx, in.str("Bucket"), "s3:PutBucketPolicy");
    const Value* policy = in.get("Policy");
    std::string text = policy && policy->is_string() ? policy->as_string() : std::string();
    parse_bucket_policy(text, b.name);
    objects_.put_bucket_policy(b.name, text);
    return Value::map().set(std::string(server::kHttpStatusMember), 204);
  });
  on("GetBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = policy_bucket(ctx, in.str("Bucket"), "s3:GetBucketPolicy");
    auto policy = objects_.bucket_policy(b.name);
    if (!policy) throw AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404).with("BucketName", b.name);
    return Value::map().set("Policy", *policy);
  });
  on("DeleteBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = policy_bucket(ctx, in.str("Bucket"), "s3:DeleteBucketPolicy");
    objects_.delete_bucket_policy(b.name);  // deleting a missing policy succeeds too
    return Value::map();
  });
  // Default encryption: what objects written without encryption headers get (resolve_encryption,
  // also for CloudTrail's deliveries). A bucket without a configuration answers S3's default
  // rule (AES256, BucketKeyEnabled false); Delete returns to it.
  on("PutBucketEncryption", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutEncryptionConfiguration");
    objects_.put_bucket_encryption(b.name, parse_bucket_encryption(in));
    return Value::map();
  });
  on("GetBucketEncryption", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:GetEncryptionConfiguration");
    BucketEncryption e = objects_.bucket_encryption(b.name).value_or(BucketEncryption{});
    Value by_default = Value::map().set("SSEAlgorithm", e.algorithm);
    if (!e.kms_key_id.empty()) by_default.set("KMSMasterKeyID", e.kms_key_id);
    Value rule = Value::map().set("ApplyServerSideEncryptionByDefault", std::move(by_default)).set("BucketKeyEnabled", e.bucket_key);
    return Value::map().set("ServerSideEncryptionConfiguration", Value::map().set("Rules", Value::list().push(std::move(rule))));
  });
  on("DeleteBucketEncryption", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutEncryptionConfiguration");  // IAM has no separate delete action
    objects_.delete_bucket_encryption(b.name);
    return Value::map().set(std::string(server::kHttpStatusMember), 204);
  });
}

server::AuditClass S3Service::audit_class(std::string_view operation) const {
  // CloudTrail's S3 data events: object-level operations and listing.
  for (std::string_view op : {"PutObject", "GetObject", "HeadObject", "GetObjectAttributes", "DeleteObject", "DeleteObjects", "CopyObject", "ListObjects", "ListObjectsV2",
                              "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload",
                              "ListMultipartUploads", "ListParts"})
    if (operation == op) return server::AuditClass::Data;
  return server::AuditClass::Management;
}

namespace {
// The name AWS's S3 records give a member: the bucket and key as bucketName and key, query
// parameters and x-amz-* headers by their wire names ("list-type", "x-amz-acl"), payload
// members by their element name; "" for what the records leave out: bodies, other headers
// (Content-Type, Range, conditions), checksums, customer keys and user metadata.
std::string audit_member_name(const protocol::MemberRef& m, bool request) {
  if (m.location == "uri") return m.name == "Bucket" ? "bucketName" : m.name == "Key" ? "key" : m.wire_name();
  if (m.location == "querystring") return m.wire_name();
  if (m.location == "header") {
    std::string wire = m.wire_name();
    std::transform(wire.begin(), wire.end(), wire.begin(), [](unsigned char c) { return std::tolower(c); });
    if (wire.rfind("x-amz-", 0) != 0 || wire.rfind("x-amz-checksum", 0) == 0 || wire.find("customer-key") != std::string::npos ||
        wire == "x-amz-sdk-checksum-algorithm" || wire == "x-amz-content-sha256" || wire == "x-amz-expected-bucket-owner")
      return "";
    return wire;
  }
  if (m.location.empty() && !(m.shape && m.shape->type == protocol::ShapeType::Blob)) {  // bodies are never recorded
    if (request) return m.name == "Policy" ? "bucketPolicy" : m.wire_name();
    std::string name = m.wire_name();  // output body members: as AWS shows CreateMultipartUpload's bucket, key, uploadId
    if (!name.empty()) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    return name;
  }
  return "";
}

const Value& audit_members(const protocol::Shape* shape, const Value& in, Value& scratch, bool request) {
  scratch = Value::map();
  if (!shape || !in.is_map()) return scratch;
  for (const auto& [k, v] : in.as_map()) {
    const protocol::MemberRef* m = shape->member(k);
    if (!m) continue;  // status overrides and other internal members
    std::string name = audit_member_name(*m, request);
    if (name.empty()) continue;
    if (name == "bucketPolicy" && v.is_string()) {
      try {
        scratch.set(name, protocol::json_to_value(v.as_string(), nullptr));  // recorded as the policy document
        continue;
      } catch (const std::exception&) {
      }
    }
    scratch.set(name, v);
  }
  return scratch;
}
}  // namespace

const Value& S3Service::audit_parameters(std::string_view operation, const Value& input, Value& scratch) const {
  const protocol::Operation* op = model().operation(operation);
  return audit_members(op ? op->input : nullptr, input, scratch, true);
}

const Value& S3Service::audit_elements(std::string_view operation, const Value& output, Value& scratch) const {
  const protocol::Operation* op = model().operation(operation);
  return audit_members(op ? op->output : nullptr, output, scratch, false);
}

void S3Service::precheck_input(std::string_view operation, const Value& input) const {
  if (operation != "GetObjectAttributes") return;
  const Value* attributes = input.get("ObjectAttributes");
  if (!attributes || (attributes->is_list() && attributes->as_list().empty()))
    throw AwsError("InvalidRequest", "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty", 400);
}

namespace {
// The account that asks: the signer's, or none for an anonymous request (whose ctx.account_id
// becomes the bucket owner's once the bucket is known, so its CloudTrail record reaches the owner).
const std::string& caller_account(const CallContext& ctx) { return ctx.principal ? ctx.principal->account_id : ctx.account_id; }
bool is_anonymous(const CallContext& ctx) { return ctx.principal && ctx.principal->is_anonymous; }

// SSE-KMS needs a signed caller of the key's own account: Vigil does not evaluate key policies,
// so a key serves the account that owns it, as its default key policy (and an AWS managed
// key's) says. An anonymous request gets S3's answer for unsigned SSE-KMS requests.
void check_kms_caller(const CallContext& ctx, const ObjectEncryption& e) {
  if (e.algorithm != "aws:kms" || e.kms_key_arn.empty()) return;
  if (is_anonymous(ctx))
    throw AwsError("InvalidArgument", "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4.", 400);
  auto arn = split_arn(e.kms_key_arn);
  if (arn && arn->account != caller_account(ctx)) throw access_denied();
}
}  // namespace

BucketRecord S3Service::existing_bucket(CallContext& ctx, std::string_view name) const {
  auto b = objects_.bucket(name);
  if (!b) throw no_such_bucket(name);
  if (is_anonymous(ctx) && ctx.account_id.empty()) {  // the first bucket named (a copy's destination) owns the record
    ctx.account_id = b->owner_account;
    ctx.region = b->region;
  }
  ctx.resources.emplace_back("AWS::S3::Bucket", b->name);  // CloudTrail names buckets plainly
  return *b;
}

bool S3Service::allowed(const CallContext& ctx, const BucketRecord& bucket, std::string_view action, const std::string* key,
                        const ConditionKeys& extra) const {
  iam::Request r;
  r.account = caller_account(ctx);
  r.principal_arn = ctx.principal ? ctx.principal->arn() : std::string();
  r.action = std::string(action);
  r.resource = "arn:aws:s3:::" + bucket.name + (key ? "/" + *key : std::string());
  // The global condition keys Vigil knows for every request. The listener serves plain
  // HTTP only, so aws:SecureTransport is "false".
  r.context = extra;
  r.context["aws:SecureTransport"] = "false";
  r.context["aws:SourceIp"] = ctx.source_ip;
  if (!is_anonymous(ctx)) {
    r.context["aws:PrincipalAccount"] = r.account;
    r.context["aws:PrincipalArn"] = r.principal_arn;
  }
  r.context["aws:RequestedRegion"] = ctx.region;
  r.context["aws:ResourceAccount"] = bucket.owner_account;
  r.context["s3:ResourceAccount"] = bucket.owner_account;
  r.context["s3:signatureversion"] = "AWS4-HMAC-SHA256";
  // The request's time, for Date conditions (whole seconds, as IAM's own keys are).
  const double now = std::floor(ctx.time);
  r.context["aws:CurrentTime"] = format_iso8601(now);
  r.context["aws:EpochTime"] = format_epoch_number(now);
  if (is_anonymous(ctx)) {
    r.context["aws:PrincipalType"] = "Anonymous";
  } else if (ctx.principal) {
    r.context["aws:PrincipalType"] = ctx.principal->is_root ? "Account" : "User";
    r.context["aws:userid"] = ctx.principal->principal_id();
    if (!ctx.principal->is_root) r.context["aws:username"] = ctx.principal->user_name;
  }
  return s3_request_allowed(objects_, bucket, r, ctx.principal && ctx.principal->is_root);
}

BucketRecord S3Service::authorize(CallContext& ctx, std::string_view name, std::string_view action, const std::string* key,
                                  const ConditionKeys& extra) const {
  BucketRecord b = existing_bucket(ctx, name);
  if (!allowed(ctx, b, action, key, extra)) throw access_denied();
  return b;
}

BucketRecord S3Service::policy_bucket(CallContext& ctx, std::string_view name, std::string_view action) const {
  BucketRecord b = authorize(ctx, name, action);
  if (b.owner_account != caller_account(ctx)) throw AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405);
  return b;
}

Value S3Service::create_bucket(CallContext& ctx, const Value& in) {
  if (is_anonymous(ctx)) throw access_denied();
  std::string name(in.str("Bucket"));
  if (!valid_bucket_name(name)) throw AwsError("InvalidBucketName", "The specified bucket is not valid.", 400);
  std::string region = ctx.region.empty() ? "us-east-1" : ctx.region;
  std::optional<std::string> constraint;
  if (const Value* cfg = in.get("CreateBucketConfiguration"); cfg && cfg->is_map())
    if (const Value* lc = cfg->get("LocationConstraint"); lc && lc->is_string() && !lc->as_string().empty()) constraint = lc->as_string();
  if (constraint) {
    if (*constraint == "us-east-1") throw AwsError("InvalidLocationConstraint", "The specified location-constraint is not valid", 400);
    std::string wanted = *constraint == "EU" ? "eu-west-1" : *constraint;
    if (wanted != region)
      throw AwsError("IllegalLocationConstraintException",
                     "The " + *constraint + " location constraint is incompatible for the region specific endpoint this request was sent to.", 400);
  } else if (region != "us-east-1") {
    throw AwsError("IllegalLocationConstraintException",
                   "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.", 400);
  }
  if (auto existing = objects_.create_bucket(BucketRecord{name, ctx.account_id, region, ctx.time})) {
    // S3's legacy answer in North Virginia: re-creating a bucket you own there is 200 OK (it
    // resets the bucket's ACLs, which Vigil does not keep); everywhere else 409.
    if (existing->owner_account == ctx.account_id && region == "us-east-1" && existing->region == "us-east-1") {
      ctx.resources.emplace_back("AWS::S3::Bucket", name);
      return Value::map().set("Location", "/" + name);
    }
    if (existing->owner_account == ctx.account_id)
      throw AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", 409)
          .with("BucketName", name);
    throw AwsError("BucketAlreadyExists",
                   "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                   409)
        .with("BucketName", name);
  }
  ctx.resources.emplace_back("AWS::S3::Bucket", name);
  return Value::map().set("Location", "/" + name);
}

Value S3Service::list_buckets(CallContext& ctx, const Value& in) {
  if (is_anonymous(ctx)) throw access_denied();
  std::string prefix(in.str("Prefix"));
  Value buckets = Value::list();
  for (const auto& b : objects_.buckets_of(ctx.account_id)) {
    if (b.name.compare(0, prefix.size(), prefix) != 0) continue;
    buckets.push(Value::map().set("Name", b.name).set("CreationDate", Timestamp{b.created}).set("BucketRegion", b.region));
  }
  Value out = Value::map().set("Buckets", std::move(buckets)).set("Owner", owner_of(ctx.account_id));
  if (!prefix.empty()) out.set("Prefix", prefix);
  return out;
}

Value S3Service::put_object(CallContext& ctx, const Value& in) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutObject", &key, write_conditions(in));
  EncryptionRequest encryption = encryption_request(in);
  const WriteCondition condition = write_condition_of(in);
  check_write_condition_now(objects_, condition, b.name, key);
  ObjectRecord meta;
  take_metadata(in, meta);
  meta.encryption = objects_.resolve_encryption(b, encryption);
  check_kms_caller(ctx, meta.encryption);
  ChecksumRequest checksum = requested_checksum(in, ctx.request_file ? ctx.auth : nullptr);
  // An object uploaded without a checksum gets S3's default one (since 2025): CRC64NVME.
  if (checksum.algorithm == ChecksumAlgorithm::None) checksum.algorithm = ChecksumAlgorithm::CRC64NVME;
  ObjectRecord stored;
  if (ctx.request_file) {
    with_request_file(ctx, in, checksum, [&](DurableFile& file, const std::string& digest) {
      meta.checksum = full_object_checksum(checksum.algorithm, digest);
      stored = objects_.put_file(b.name, key, file, std::move(meta), ctx.time, condition);
    });
  } else {
    std::string_view body = body_of(in);
    check_content_md5(in, body);
    std::string digest = compute_checksum(checksum.algorithm, body);
    if (checksum.value) verify_checksum(checksum.algorithm, *checksum.value, digest);
    meta.checksum = full_object_checksum(checksum.algorithm, digest);
    stored = objects_.put(b.name, key, body, std::move(meta), ctx.time, condition);
  }
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
  Value out = Value::map().set("ETag", stored.quoted_etag());
  set_encryption_members(out, stored.encryption, true);
  set_checksum_members(out, stored.checksum);
  return out;
}

Value S3Service::get_object(CallContext& ctx, const Value& in, bool with_body) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:GetObject", &key);
  // partNumber: one part of a multipart object, as a range of it (S3 checks it before it
  // looks the key up).
  std::optional<int64_t> part_number;
  if (in.has("PartNumber")) {
    part_number = in.i64("PartNumber", 0);
    if (*part_number < 1 || *part_number > kMaxPartNumber) throw bad_part_number(in);
    if (in.has("Range")) throw invalid_request("Cannot specify both Range header and partNumber query parameter");
  }
  auto object = objects_.head(b.name, key);
  // GET answers from a descriptor opened now, so the bytes sent are those of the record that
  // was read even if the object is replaced or deleted while they stream. A file already gone
  // means the record was replaced in between: read the record again (a bounded number of
  // times; a key rewritten that fast still answers something consistent, or NoSuchKey). The
  // same for the parts of a multipart object (read before the file is opened: a file that
  // opens afterwards is of the version they describe).
  std::optional<int> fd;
  std::optional<std::vector<ObjectPart>> parts;
  for (int attempt = 0; object && (with_body ? !fd : !parts); ++attempt) {
    parts = part_number ? objects_.parts(*object) : std::vector<ObjectPart>{};
    if (parts && with_body) fd = objects_.open(*object);
    if (!parts || (with_body && !fd)) object = attempt < 8 ? objects_.head(b.name, key) : std::nullopt;
  }
  std::shared_ptr<FileBody> file = fd ? std::make_shared<FileBody>(*fd, 0, 0) : nullptr;  // closes it on every exit
  if (!object) {
    if (with_body) throw no_such_key(key);
    throw AwsError("NotFound", "Not Found", 404);  // HEAD answers carry no body, hence no code
  }
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
  Conditions c;
  c.if_match = string_member(in, "IfMatch");
  c.if_none_match = string_member(in, "IfNoneMatch");
  c.if_modified_since = time_member(in, "IfModifiedSince");
  c.if_unmodified_since = time_member(in, "IfUnmodifiedSince");
  Value out = Value::map();
  out.set("ETag", object->quoted_etag()).set("LastModified", Timestamp{static_cast<double>(static_cast<int64_t>(object->last_modified))});
  switch (evaluate_conditions(c, *object)) {
    case Precondition::Failed:
      // The condition S3 names: If-Match outranks If-Unmodified-Since (evaluate_conditions).
      throw precondition_failed(c.if_match ? "If-Match" : "If-Unmodified-Since");
    case Precondition::NotModified:
      out.set(std::string(server::kHttpStatusMember), 304);
      return out;
    case Precondition::Proceed: break;
  }
  if (with_body) {  // GET decrypts with the object's KMS key; HEAD does not
    check_kms_caller(ctx, object->encryption);
    objects_.check_kms_key(object->encryption);
  }
  out.set("AcceptRanges", "bytes").set("ContentType", object->content_type);
  // Objects stored before encryption at rest (records without a data key) are plaintext
  // files: S3 would call them unencrypted, and so does this.
  if (!object->sse.empty()) set_encryption_members(out, object->encryption);
  for (const auto& [k, v] : object->headers) out.set(k, v);
  if (!object->metadata.empty()) {
    Value meta = Value::map();
    for (const auto& [k, v] : object->metadata) meta.set(k, v);
    out.set("Metadata", std::move(meta));
  }
  uint64_t first = 0, length = object->size;
  // The checksum the answer may carry (x-amz-checksum-mode: ENABLED): the object's, for the
  // whole object only (a client checks it against the bytes it got).
  StoredChecksum checksum = object->checksum;
  if (part_number) {
    // A single-part object is its own part 1 (answered like a range of all of it, without a
    // parts count); a multipart one answers the part's bytes, its count of parts and, for a
    // COMPOSITE checksum, the part's own checksum (a FULL_OBJECT one describes no part).
    const ObjectPart* part = nullptr;
    for (const auto& p : *parts) {
      if (p.number == *part_number) {
        part = &p;
        break;
      }
      first += p.size;
    }
    if (object->parts_count > 0 ? !part : *part_number != 1)
      throw AwsError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
          .with("PartNumberRequested", std::to_string(*part_number))
          .with("ActualPartCount", std::to_string(object->parts_count > 0 ? parts->size() : 1));
    if (part) {
      length = part->size;
      out.set("PartsCount", static_cast<int64_t>(parts->size()));
      checksum = object->checksum.type == kComposite && !part->checksum.empty()
                     ? StoredChecksum{object->checksum.algorithm, part->checksum, std::string(kComposite)}
                     : StoredChecksum{};
    }
    if (object->size > 0) {
      out.set("ContentRange", "bytes " + std::to_string(first) + "-" + std::to_string(first + length - 1) + "/" + std::to_string(object->size));
      out.set(std::string(server::kHttpStatusMember), 206);
    }
  } else if (const Value* range = in.get("Range"); range && range->is_string()) {
    bool unsatisfiable = false;
    auto r = parse_range(range->as_string(), object->size, unsatisfiable);
    if (unsatisfiable)
      throw AwsError("InvalidRange", "The requested range is not satisfiable", 416)
          .with("RangeRequested", range->as_string())
          .with("ActualObjectSize", std::to_string(object->size));
    if (r) {
      first = r->first;
      length = r->last - r->first + 1;
      out.set("ContentRange", "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) + "/" + std::to_string(object->size));
      out.set(std::string(server::kHttpStatusMember), 206);
      checksum = {};
    }
  }
  out.set("ContentLength", static_cast<int64_t>(length));
  if (in.str("ChecksumMode") == "ENABLED") set_checksum_members(out, checksum);
  // response-* query parameters override the stored headers (GET only in AWS, harmless on HEAD).
  for (auto [param, member] : {std::pair{"ResponseContentType", "ContentType"}, {"ResponseCacheControl", "CacheControl"},
                               {"ResponseContentDisposition", "ContentDisposition"}, {"ResponseContentEncoding", "ContentEncoding"},
                               {"ResponseContentLanguage", "ContentLanguage"}})
    if (auto v = string_member(in, param)) out.set(member, *v);
  if (with_body) {
    // The payload member stays empty (the codec still gives it its Content-Type); the
    // listener streams the range from the open file instead.
    out.set("Body", Blob{});
    if (length > 0) {
      file->set_range(first, length);
      // The listener decrypts each chunk after reading it, at its offset (CTR: no need to start
      // from the beginning of the file for a range).
      if (auto key = objects_.data_key(object->sse, object->file))
        file->set_transform([key = *key](char* data, size_t n, uint64_t offset) { key.apply(offset, data, n); });
      ctx.response_file = std::move(file);
    }
  }
  return out;
}

Value S3Service::get_object_attributes(CallContext& ctx, const Value& in) {
  std::string key(in.str("Key"));
  // S3 asks for both actions (s3:GetObjectAttributes alone reads nothing).
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:GetObject", &key);
  if (!allowed(ctx, b, "s3:GetObjectAttributes", &key)) throw access_denied();
  std::vector<std::string> wanted;
  if (const Value* list = in.get("ObjectAttributes"); list && list->is_list())
    for (const Value& a : list->as_list())
      if (a.is_string() && !a.as_string().empty()) wanted.push_back(a.as_string());
  if (wanted.empty()) throw invalid_request("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty");
  auto wants = [&](std::string_view name) { return std::find(wanted.begin(), wanted.end(), name) != wanted.end(); };
  int64_t max_parts = in.i64("MaxParts", 1000);
  if (max_parts < 0) throw AwsError("InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647", 400);
  int64_t marker = in.i64("PartNumberMarker", 0);
  if (marker < 0) throw AwsError("InvalidArgument", "Argument part-number-marker must be an integer between 0 and 2147483647", 400);
  // The record and its parts (a bounded number of re-reads if the object is replaced between
  // the two; see get_object()).
  auto object = objects_.head(b.name, key);
  std::optional<std::vector<ObjectPart>> parts;
  for (int attempt = 0; object && !parts; ++attempt) {
    parts = wants("ObjectParts") ? objects_.parts(*object) : std::vector<ObjectPart>{};
    if (!parts) object = attempt < 8 ? objects_.head(b.name, key) : std::nullopt;
  }
  if (!object) {
    // As S3: a caller who may not list the bucket does not learn whether the key exists.
    if (!allowed(ctx, b, "s3:ListBucket", nullptr)) throw access_denied();
    throw no_such_key(key);
  }
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
  Value out = Value::map().set("LastModified", Timestamp{static_cast<double>(static_cast<int64_t>(object->last_modified))});
  if (wants("ETag")) out.set("ETag", object->etag);  // unquoted here, unlike the ETag header
  if (wants("Checksum") && !object->checksum.empty() && !object->checksum.value.empty()) {
    Value checksum = Value::map();
    set_checksum_members(checksum, object->checksum);
    out.set("Checksum", std::move(checksum));
  }
  // Multipart objects only. Their parts are listed when the object has an additional
  // checksum of the upload's algorithm, each with its checksum (S3 lists none otherwise).
  if (wants("ObjectParts") && object->parts_count > 0) {
    const bool listed = !parts->empty() && !parts->front().checksum.empty();
    Value page = Value::list();
    int64_t last = 0;
    bool truncated = false;
    const int64_t limit = std::min<int64_t>(max_parts, 1000);
    for (const auto& p : *parts) {
      if (p.number <= marker) continue;
      if (static_cast<int64_t>(page.as_list().size()) == limit) {
        truncated = true;
        break;
      }
      Value part = Value::map().set("PartNumber", static_cast<int64_t>(p.number)).set("Size", static_cast<int64_t>(p.size));
      if (!p.checksum.empty()) part.set("Checksum" + object->checksum.algorithm, p.checksum);
      page.push(std::move(part));
      last = p.number;
    }
    Value info = Value::map()
                     .set("TotalPartsCount", static_cast<int64_t>(parts->size()))
                     .set("PartNumberMarker", marker)
                     .set("MaxParts", max_parts)
                     .set("IsTruncated", truncated);
    if (truncated) info.set("NextPartNumberMarker", last);
    if (listed && !page.as_list().empty()) info.set("Parts", std::move(page));
    out.set("ObjectParts", std::move(info));
  }
  if (wants("StorageClass")) out.set("StorageClass", "STANDARD");
  if (wants("ObjectSize")) out.set("ObjectSize", static_cast<int64_t>(object->size));
  return out;
}

ObjectRecord S3Service::copy_source(CallContext& ctx, const Value& in, std::string& bucket, std::string& key) {
  std::string source(in.str("CopySource"));
  if (size_t q = source.find('?'); q != std::string::npos) source.resize(q);  // ?versionId=: unversioned buckets
  source = percent_decode(source, false);
  if (!source.empty() && source.front() == '/') source.erase(0, 1);
  size_t slash = source.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == source.size())
    throw AwsError("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", 400);
  key = source.substr(slash + 1);
  bucket = authorize(ctx, source.substr(0, slash), "s3:GetObject", &key).name;
  auto object = objects_.head(bucket, key);
  if (!object) throw no_such_key(key);
  Conditions c;
  c.if_match = string_member(in, "CopySourceIfMatch");
  c.if_none_match = string_member(in, "CopySourceIfNoneMatch");
  c.if_modified_since = time_member(in, "CopySourceIfModifiedSince");
  c.if_unmodified_since = time_member(in, "CopySourceIfUnmodifiedSince");
  if (evaluate_conditions(c, *object) != Precondition::Proceed)
    throw precondition_failed("");
  check_kms_caller(ctx, object->encryption);  // the copy decrypts its source
  objects_.check_kms_key(object->encryption);
  return *object;
}

Value S3Service::copy_object(CallContext& ctx, const Value& in) {
  std::string dest_key(in.str("Key"));
  ConditionKeys conditions = write_conditions(in);
  conditions["s3:x-amz-copy-source"] = std::string(in.str("CopySource"));
  if (const Value* d = in.get("MetadataDirective"); d && d->is_string()) conditions["s3:x-amz-metadata-directive"] = d->as_string();
  BucketRecord dest = authorize(ctx, in.str("Bucket"), "s3:PutObject", &dest_key, conditions);
  EncryptionRequest encryption = encryption_request(in);
  const WriteCondition condition = write_condition_of(in);  // on the destination
  std::string src_bucket, src_key;
  ObjectRecord object = copy_source(ctx, in, src_bucket, src_key);
  std::string directive(in.str("MetadataDirective", "COPY"));
  if (directive != "COPY" && directive != "REPLACE")
    throw AwsError("InvalidArgument", "Unknown metadata directive.", 400);
  // Naming an encryption makes a copy onto itself legal (S3's idiom to re-encrypt objects in
  // place: `aws s3 cp s3://b/k s3://b/k --sse AES256`); the copy gets a new data key.
  if (directive == "COPY" && src_bucket == dest.name && src_key == dest_key && !in.has("ServerSideEncryption"))
    throw AwsError("InvalidRequest",
                   "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                   400);
  ObjectRecord meta;
  if (directive == "REPLACE") {
    take_metadata(in, meta);
  } else {
    meta.content_type = object.content_type;
    meta.metadata = object.metadata;
    meta.headers = object.headers;
  }
  // The copy is encrypted as the request says, else by the destination bucket's default (not
  // as its source), as in S3.
  meta.encryption = objects_.resolve_encryption(dest, encryption);
  check_kms_caller(ctx, meta.encryption);
  // The copy's checksum is computed as its bytes are written: with x-amz-checksum-algorithm if
  // given, else the source's algorithm where it can describe the whole object (a composite SHA
  // checksum of parts cannot: the copy is one piece), else S3's default, CRC64NVME.
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::CRC64NVME;
  if (auto named = string_member(in, "ChecksumAlgorithm")) {
    algorithm = named_algorithm(*named, "Value for x-amz-checksum-algorithm header is invalid.");
  } else if (auto source_algorithm = checksum_algorithm(object.checksum.algorithm);
             source_algorithm && (object.checksum.type == kFullObject || is_crc(*source_algorithm))) {
    algorithm = *source_algorithm;
  }
  check_write_condition_now(objects_, condition, dest.name, dest_key);
  ObjectRecord stored = objects_.copy(dest.name, dest_key, object, std::move(meta), ctx.time, algorithm, condition);
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + dest.name + "/" + dest_key);
  Value result = Value::map().set("ETag", stored.quoted_etag()).set("LastModified", Timestamp{stored.last_modified});
  set_checksum_members(result, stored.checksum);
  Value out = Value::map().set("CopyObjectResult", std::move(result));
  set_encryption_members(out, stored.encryption, true);
  return out;
}

UploadRecord S3Service::upload_of(const BucketRecord& bucket, const Value& in) const {
  auto upload = uploads_.find(bucket.name, in.str("Key"), in.str("UploadId"));
  if (!upload) throw no_such_upload(in.str("UploadId"));
  return *upload;
}

Value S3Service::create_multipart_upload(CallContext& ctx, const Value& in) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutObject", &key, write_conditions(in));
  EncryptionRequest encryption = encryption_request(in);
  UploadRecord u;
  u.bucket = b.name;
  u.key = key;
  u.owner_account = b.owner_account;
  u.initiator_arn = ctx.principal ? ctx.principal->arn() : "arn:aws:iam::" + ctx.account_id + ":root";
  u.initiated = ctx.time;
  take_metadata(in, u.meta);  // what the completed object will carry
  u.meta.encryption = objects_.resolve_encryption(b, encryption);
  check_kms_caller(ctx, u.meta.encryption);
  // The upload's checksum: its algorithm and whether the object's is the composite of the
  // parts' or one over the whole object (only CRCs can be combined into one; CRC64NVME only so).
  auto algorithm_name = string_member(in, "ChecksumAlgorithm");
  auto type = string_member(in, "ChecksumType");
  if (type && !algorithm_name) throw invalid_request("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.");
  if (algorithm_name) {
    ChecksumAlgorithm a = named_algorithm(*algorithm_name, "Value for x-amz-checksum-algorithm header is invalid.");
    std::string t = type ? *type : std::string(a == ChecksumAlgorithm::CRC64NVME ? kFullObject : kComposite);
    if (t != kFullObject && t != kComposite) throw invalid_request("Value for x-amz-checksum-type header is invalid.");
    if ((t == kFullObject && !is_crc(a)) || (t == kComposite && a == ChecksumAlgorithm::CRC64NVME))
      throw invalid_request("The " + t + " checksum type cannot be used with the " + lower(checksum_name(a)) + " checksum algorithm.");
    u.meta.checksum = StoredChecksum{std::string(checksum_name(a)), {}, t};
  }
  UploadRecord created = uploads_.create(std::move(u));
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + created.key);
  Value out = Value::map().set("Bucket", b.name).set("Key", created.key).set("UploadId", created.upload_id);
  set_encryption_members(out, created.meta.encryption, true);
  if (!created.meta.checksum.empty()) out.set("ChecksumAlgorithm", created.meta.checksum.algorithm).set("ChecksumType", created.meta.checksum.type);
  return out;
}

Value S3Service::upload_part(CallContext& ctx, const Value& in, bool copy) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutObject", &key);
  int64_t number = in.i64("PartNumber", 0);
  if (number < 1 || number > kMaxPartNumber) throw bad_part_number(in);
  UploadRecord upload = upload_of(b, in);
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + upload.key);
  check_kms_caller(ctx, upload.meta.encryption);  // each part is encrypted with the upload's key
  objects_.check_kms_key(upload.meta.encryption);
  if (!copy) {
    // A part's checksum is of the upload's algorithm: computed when the request gives none,
    // refused when it gives another. An upload without one keeps what its parts were sent with.
    ChecksumRequest checksum = requested_checksum(in, ctx.request_file ? ctx.auth : nullptr);
    if (auto declared = checksum_algorithm(upload.meta.checksum.algorithm)) {
      if (checksum.algorithm != ChecksumAlgorithm::None && checksum.algorithm != *declared)
        throw invalid_request("Checksum Type mismatch occurred, expected checksum Type: " + lower(checksum_name(*declared)) +
                              ", actual checksum Type: " + lower(checksum_name(checksum.algorithm)));
      checksum.algorithm = *declared;
    }
    auto part_checksum = [&](const std::string& digest) {
      if (checksum.algorithm == ChecksumAlgorithm::None) return StoredChecksum{};
      return StoredChecksum{std::string(checksum_name(checksum.algorithm)), base64_encode(digest), {}};
    };
    PartRecord part;
    if (ctx.request_file) {
      with_request_file(ctx, in, checksum, [&](DurableFile& file, const std::string& digest) {
        part = uploads_.put_part_file(upload, static_cast<int>(number), file, ctx.time, part_checksum(digest));
      });
    } else {
      std::string_view body = body_of(in);
      check_content_md5(in, body);
      std::string digest;
      if (checksum.algorithm != ChecksumAlgorithm::None) digest = compute_checksum(checksum.algorithm, body);
      if (checksum.value) verify_checksum(checksum.algorithm, *checksum.value, digest);
      part = uploads_.put_part(upload, static_cast<int>(number), body, ctx.time, part_checksum(digest));
    }
    Value out = Value::map().set("ETag", part.quoted_etag());
    set_encryption_members(out, upload.meta.encryption);
    set_checksum_members(out, part.checksum, false);
    return out;
  }
  std::string src_bucket, src_key;
  ObjectRecord source = copy_source(ctx, in, src_bucket, src_key);
  uint64_t offset = 0, length = source.size;
  if (auto range = string_member(in, "CopySourceRange")) std::tie(offset, length) = copy_source_range(*range, source.size);
  PartRecord part = uploads_.copy_part(upload, static_cast<int>(number), source, offset, length, ctx.time);
  Value result = Value::map().set("ETag", part.quoted_etag()).set("LastModified", Timestamp{part.last_modified});
  set_checksum_members(result, part.checksum, false);
  Value out = Value::map().set("CopyPartResult", std::move(result));
  set_encryption_members(out, upload.meta.encryption);
  return out;
}

Value S3Service::complete_multipart_upload(CallContext& ctx, const Value& in) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:PutObject", &key, write_conditions(in));
  const WriteCondition condition = write_condition_of(in);
  UploadRecord upload = upload_of(b, in);
  check_kms_caller(ctx, upload.meta.encryption);
  objects_.check_kms_key(upload.meta.encryption);
  std::vector<CompletedPart> parts;
  const Value* mpu = in.get("MultipartUpload");
  const Value* list = mpu ? mpu->get("Parts") : nullptr;
  if (list && list->is_list())
    for (const Value& p : list->as_list()) {
      if (!p.has("PartNumber") || !p.has("ETag"))
        throw AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400);
      parts.push_back(CompletedPart{static_cast<int>(std::clamp<int64_t>(p.i64("PartNumber", 0), -1, kMaxPartNumber + 1)), std::string(p.str("ETag")),
                                    listed_checksum(p)});
    }
  std::optional<uint64_t> object_size;
  if (in.has("MpuObjectSize")) {
    int64_t n = in.i64("MpuObjectSize", -1);
    if (n < 0) throw invalid_request("Value for x-amz-mp-object-size header is invalid.");
    object_size = static_cast<uint64_t>(n);
  }
  ObjectRecord stored = uploads_.complete(upload, parts, ctx.time, listed_checksum(in), condition, object_size);
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + upload.key);
  Value out = Value::map()
                  .set("Location", "/" + b.name + "/" + percent_encode(upload.key, true))
                  .set("Bucket", b.name)
                  .set("Key", upload.key)
                  .set("ETag", stored.quoted_etag());
  set_encryption_members(out, stored.encryption);
  set_checksum_members(out, stored.checksum);
  return out;
}

Value S3Service::list_multipart_uploads(CallContext& ctx, const Value& in) {
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:ListBucketMultipartUploads");
  std::string encoding(in.str("EncodingType"));
  if (!encoding.empty() && encoding != "url") throw AwsError("InvalidArgument", "Invalid Encoding Method specified in Request", 400);
  bool url = encoding == "url";
  int64_t max_uploads = in.i64("MaxUploads", 1000);
  if (max_uploads < 0) throw AwsError("InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647", 400);
  UploadListQuery q;
  q.prefix = std::string(in.str("Prefix"));
  q.delimiter = std::string(in.str("Delimiter"));
  q.key_marker = std::string(in.str("KeyMarker"));
  // S3 ignores upload-id-marker without key-marker.
  if (!q.key_marker.empty()) q.upload_id_marker = std::string(in.str("UploadIdMarker"));
  q.max_uploads = static_cast<int>(std::min<int64_t>(max_uploads, 1000));
  UploadListResult page = uploads_.list_uploads(b.name, q);
  Value uploads = Value::list(), prefixes = Value::list();
  for (const auto& e : page.entries) {
    if (e.is_prefix) {
      prefixes.push(Value::map().set("Prefix", url_encode_if(url, e.prefix)));
      continue;
    }
    const UploadRecord& u = e.upload;
    // The initiator is the caller's identity; S3 shows its ARN as ID for IAM users.
    std::string initiator_id = u.initiator_arn.size() > 5 && u.initiator_arn.substr(u.initiator_arn.size() - 5) == ":root"
                                   ? canonical_id(u.owner_account)
                                   : u.initiator_arn;
    uploads.push(Value::map()
                     .set("UploadId", u.upload_id)
                     .set("Key", url_encode_if(url, u.key))
                     .set("Initiated", Timestamp{u.initiated})
                     .set("StorageClass", "STANDARD")
                     .set("Owner", owner_of(u.owner_account))
                     .set("Initiator", Value::map().set("ID", initiator_id).set("DisplayName", u.owner_account)));
  }
  Value out = Value::map();
  out.set("Bucket", b.name).set("KeyMarker", url_encode_if(url, q.key_marker)).set("UploadIdMarker", q.upload_id_marker);
  if (page.truncated) {
    out.set("NextKeyMarker", url_encode_if(url, page.next_key_marker)).set("NextUploadIdMarker", page.next_upload_id_marker);
  }
  out.set("Prefix", url_encode_if(url, q.prefix));
  if (!q.delimiter.empty()) out.set("Delimiter", url_encode_if(url, q.delimiter));
  out.set("MaxUploads", max_uploads).set("IsTruncated", page.truncated);
  if (!uploads.as_list().empty()) out.set("Uploads", std::move(uploads));
  if (!prefixes.as_list().empty()) out.set("CommonPrefixes", std::move(prefixes));
  if (url) out.set("EncodingType", "url");
  return out;
}

Value S3Service::list_parts(CallContext& ctx, const Value& in) {
  std::string key(in.str("Key"));
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:ListMultipartUploadParts", &key);
  UploadRecord upload = upload_of(b, in);
  int64_t max_parts = in.i64("MaxParts", 1000);
  if (max_parts < 0) throw AwsError("InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647", 400);
  int64_t marker = in.i64("PartNumberMarker", 0);
  if (marker < 0) throw AwsError("InvalidArgument", "Argument part-number-marker must be an integer between 0 and 2147483647", 400);
  PartListResult page = uploads_.list_parts(upload, static_cast<int>(std::min<int64_t>(marker, kMaxPartNumber)),
                                            static_cast<int>(std::min<int64_t>(max_parts, 1000)));
  Value parts = Value::list();
  for (const auto& p : page.parts) {
    Value part = Value::map()
                     .set("PartNumber", static_cast<int64_t>(p.number))
                     .set("LastModified", Timestamp{p.last_modified})
                     .set("ETag", p.quoted_etag())
                     .set("Size", static_cast<int64_t>(p.size));
    set_checksum_members(part, p.checksum, false);
    parts.push(std::move(part));
  }
  std::string initiator_id = upload.initiator_arn.size() > 5 && upload.initiator_arn.substr(upload.initiator_arn.size() - 5) == ":root"
                                 ? canonical_id(upload.owner_account)
                                 : upload.initiator_arn;
  Value out = Value::map();
  out.set("Bucket", b.name).set("Key", upload.key).set("UploadId", upload.upload_id).set("PartNumberMarker", marker);
  if (page.truncated) out.set("NextPartNumberMarker", static_cast<int64_t>(page.next_marker));
  out.set("MaxParts", max_parts).set("IsTruncated", page.truncated);
  if (!parts.as_list().empty()) out.set("Parts", std::move(parts));
  out.set("Initiator", Value::map().set("ID", initiator_id).set("DisplayName", upload.owner_account))
      .set("Owner", owner_of(upload.owner_account))
      .set("StorageClass", "STANDARD");
  if (!upload.meta.checksum.empty()) out.set("ChecksumAlgorithm", upload.meta.checksum.algorithm).set("ChecksumType", upload.meta.checksum.type);
  return out;
}

Value S3Service::delete_objects(CallContext& ctx, const Value& in) {
  // Each key is authorised on its own (s3:DeleteObject); a denied key is an error entry.
  BucketRecord b = existing_bucket(ctx, in.str("Bucket"));
  const Value* del = in.get("Delete");
  const Value* objects = del ? del->get("Objects") : nullptr;
  if (!objects || !objects->is_list() || objects->as_list().empty() || objects->as_list().size() > 1000)
    throw AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400);
  bool quiet = del->flag("Quiet", false);
  Value deleted = Value::list(), errors = Value::list();
  for (const Value& o : objects->as_list()) {
    std::string key(o.str("Key"));
    if (!allowed(ctx, b, "s3:DeleteObject", &key)) {
      errors.push(Value::map().set("Key", key).set("Code", "AccessDenied").set("Message", "Access Denied"));
      continue;
    }
    objects_.remove(b.name, key);
    if (!quiet) deleted.push(Value::map().set("Key", key));
  }
  Value out = Value::map();
  if (!deleted.as_list().empty()) out.set("Deleted", std::move(deleted));
  if (!errors.as_list().empty()) out.set("Errors", std::move(errors));
  return out;
}

Value S3Service::list_objects(CallContext& ctx, const Value& in, bool v2) {
  ConditionKeys conditions;
  conditions["s3:prefix"] = std::string(in.str("Prefix"));  // absent counts as "" in S3's policies
  if (const Value* d = in.get("Delimiter"); d && d->is_string()) conditions["s3:delimiter"] = d->as_string();
  if (const Value* m = in.get("MaxKeys"); m && m->kind() == Value::Kind::Int) conditions["s3:max-keys"] = std::to_string(m->as_int());
  BucketRecord b = authorize(ctx, in.str("Bucket"), "s3:ListBucket", nullptr, conditions);
  std::string encoding(in.str("EncodingType"));
  if (!encoding.empty() && encoding != "url") throw AwsError("InvalidArgument", "Invalid Encoding Method specified in Request", 400);
  bool url = encoding == "url";
  ListQuery q;
  q.prefix = std::string(in.str("Prefix"));
  q.delimiter = std::string(in.str("Delimiter"));
  int64_t max_keys = in.i64("MaxKeys", 1000);
  if (max_keys < 0) throw AwsError("InvalidArgument", "maxKeys should be non-negative", 400);
  q.max_keys = static_cast<int>(std::min<int64_t>(max_keys, 1000));
  std::string token;
  if (v2) {
    if (const Value* t = in.get("ContinuationToken"); t && t->is_string()) {
      auto decoded = base64_decode(t->as_string());
      if (!decoded || decoded->rfind("v1:", 0) != 0)
        throw AwsError("InvalidArgument", "The continuation token provided is incorrect", 400);
      token = t->as_string();
      q.after = decoded->substr(3);
    } else {
      q.after = std::string(in.str("StartAfter"));
    }
  } else {
    q.after = std::string(in.str("Marker"));
  }
  ListResult page = objects_.list(b.name, q);
  bool fetch_owner = !v2 || in.flag("FetchOwner", false);
  Value contents = Value::list(), prefixes = Value::list();
  for (const auto& e : page.entries) {
    if (e.is_prefix) {
      prefixes.push(Value::map().set("Prefix", url_encode_if(url, e.prefix)));
      continue;
    }
    Value o = Value::map();
    o.set("Key", url_encode_if(url, e.object.key))
        .set("LastModified", Timestamp{e.object.last_modified})
        .set("ETag", e.object.quoted_etag())
        .set("Size", static_cast<int64_t>(e.object.size))
        .set("StorageClass", "STANDARD");
    if (!e.object.checksum.empty())
      o.set("ChecksumAlgorithm", Value::list().push(Value(e.object.checksum.algorithm))).set("ChecksumType", e.object.checksum.type);
    if (fetch_owner) o.set("Owner", owner_of(b.owner_account));
    contents.push(std::move(o));
  }
  Value out = Value::map();
  out.set("IsTruncated", page.truncated);
  if (!v2) out.set("Marker", url_encode_if(url, q.after));
  out.set("Name", b.name).set("Prefix", url_encode_if(url, q.prefix));
  if (!q.delimiter.empty()) out.set("Delimiter", url_encode_if(url, q.delimiter));
  out.set("MaxKeys", max_keys);
  if (url) out.set("EncodingType", "url");
  std::string last = page.entries.empty() ? std::string() : page.entries.back().name();
  if (v2) {
    out.set("KeyCount", static_cast<int64_t>(page.entries.size()));
    if (!token.empty()) out.set("ContinuationToken", token);
    if (page.truncated) out.set("NextContinuationToken", base64_encode("v1:" + last));
    if (const Value* sa = in.get("StartAfter"); sa && sa->is_string()) out.set("StartAfter", url_encode_if(url, sa->as_string()));
  } else if (page.truncated && !q.delimiter.empty()) {
    out.set("NextMarker", url_encode_if(url, last));  // S3 gives NextMarker only with a delimiter
  }
  if (!contents.as_list().empty()) out.set("Contents", std::move(contents));
  if (!prefixes.as_list().empty()) out.set("CommonPrefixes", std::move(prefixes));
  return out;
}

void S3Service::with_request_file(CallContext& ctx, const Value& in, const ChecksumRequest& checksum,
                                  const std::function<void(DurableFile&, const std::string&)>& commit) const {
  RequestBodyFile& body = *ctx.request_file;
  const auth::AuthResult& auth = *ctx.auth;
  const ChecksumAlgorithm algorithm = checksum.algorithm;
  if (!is_streaming(auth.payload_kind)) {
    // The body is the payload: the spool file becomes the object's file by a rename (fsync'ed
    // by commit(), on this worker), with the MD5 the listener computed while spooling. No copy.
    if (body.size() > kMaxUploadBytes) throw entity_too_large();
    // The checksum the listener computed while spooling (upload_spool_plan() picked the
    // algorithm from the headers); a part whose algorithm only its upload knows is read once.
    std::string digest;
    if (algorithm != ChecksumAlgorithm::None) {
      auto spooled = std::dynamic_pointer_cast<SpoolChecksum>(body.digest());
      if (spooled && spooled->algorithm() == algorithm) {
        digest = spooled->digest();
      } else {
        Checksummer hasher(algorithm);
        std::string block(static_cast<size_t>(std::min<uint64_t>(body.size(), 1 << 20)), '\0');
        for (uint64_t done = 0; done < body.size();) {
          ssize_t n = body.read_at(block.data(), static_cast<size_t>(std::min<uint64_t>(block.size(), body.size() - done)), done);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) throw internal_error("cannot read a spooled request body");
          hasher.update(std::string_view(block.data(), static_cast<size_t>(n)));
          done += static_cast<uint64_t>(n);
        }
        digest = hasher.digest();
      }
    }
    const uint64_t size = body.size();
    std::string md5 = body.md5();
    // The listener encrypted it while spooling (spool_plan below), under the key whose sealed
    // form is the body file's tag: the file is renamed into place as it is.
    std::string sealed = body.transform_tag();
    auto [fd, path] = body.take();
    DurableFile file = objects_.adopt_file(fd, std::move(path), size, std::move(md5), sealed);
    check_content_md5_digest(in, file.md5_binary());
    if (checksum.value) verify_checksum(algorithm, *checksum.value, digest);
    return commit(file, digest);
  }
  // aws-chunked: decoded from the spool into a new file, 1 MiB at a time, every chunk signature
  // checked and the checksum computed on the way. Memory: the 1 MiB block plus the decoder's
  // header line, trailers and hash contexts, whatever the body's size. Bytes written before a
  // bad chunk or a wrong checksum are discarded with the uncommitted file.
  std::optional<ChunkSigner> signer;
  if (auth.payload_kind != auth::PayloadKind::StreamingUnsignedTrailer)
    signer = ChunkSigner{auth.signing_key, auth.amz_date, auth.credential_scope, auth.seed_signature,
                         auth.payload_kind == auth::PayloadKind::StreamingSignedTrailer};
  AwsChunkedDecoder decoder(signer);
  DurableFile file = objects_.new_file();
  if (algorithm != ChecksumAlgorithm::None) file.set_checksum(algorithm);
  const AwsChunkedDecoder::Sink sink = [&](std::string_view payload) {
    if (file.size() + payload.size() > kMaxUploadBytes) throw entity_too_large();
    file.append(payload);
  };
  std::string block(static_cast<size_t>(std::min<uint64_t>(body.size(), 1 << 20)), '\0');
  for (uint64_t done = 0; done < body.size() && !decoder.done();) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), body.size() - done));
    ssize_t n = body.read_at(block.data(), want, done);  // decrypted (the spool file is ciphertext)
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw internal_error("cannot read a spooled request body");
    decoder.feed(std::string_view(block.data(), static_cast<size_t>(n)), sink);
    done += static_cast<uint64_t>(n);
  }
  decoder.finish();
  check_content_md5_digest(in, file.md5_binary());
  std::string digest = file.checksum_digest();
  std::optional<std::string> expected = checksum.value;
  if (checksum.trailer) {
    // The trailer x-amz-trailer announced, now that the body is read.
    auto trailer = declared_trailer(decoder.trailers(), auth.trailer);
    expected = checksum_digest_of(algorithm, trailer, "trailing header");
  }
  if (expected) verify_checksum(algorithm, *expected, digest);
  commit(file, digest);
}

AwsError S3Service::body_too_large() const { return entity_too_large(); }

std::optional<SpoolPlan> S3Service::upload_spool_plan(const HttpRequest& head) {
  std::string_view length_text = head.header("content-length");
  std::optional<uint64_t> length = decimal(length_text);
  if (length ? *length <= kSpoolThresholdBytes : head.header("transfer-encoding").find("chunked") == std::string_view::npos) return std::nullopt;
  // Only requests signed for S3 (their service is known before the body is read).
  auth::SigV4Request view;
  view.method = head.method;
  view.raw_path = head.path;
  view.raw_query = head.query;
  view.headers.reserve(head.headers.size());
  for (const auto& [k, v] : head.headers) view.headers.emplace_back(k, v);
  auto scope = auth::parse_credential_scope(view);
  if (!scope || scope->service != "s3") return std::nullopt;

  std::string_view content_sha256 = head.header("x-amz-content-sha256");
  const bool aws_chunked = content_sha256.rfind("STREAMING-", 0) == 0;
  SpoolPlan plan;
  // An aws-chunked body carries its framing too (at least ~1% with the SDKs' 8-64 KiB chunks,
  // signed): allow 1/64 more; the decoded payload is held to the limit itself as it is written.
  plan.max_bytes = aws_chunked ? kMaxUploadBytes + kMaxUploadBytes / 64 : kMaxUploadBytes;
  plan.md5 = !aws_chunked;                // the object's ETag, so the file is never read again
  plan.sha256 = is_hex64(content_sha256);  // the signed payload hash, checked after the signature
  if (!aws_chunked) {
    // The additional checksum as the body arrives, by the algorithm the headers name; a
    // PutObject naming none gets S3's default (CRC64NVME). A part naming none is of its
    // upload's algorithm, unknown here: the handler reads its file if it must.
    ChecksumAlgorithm algorithm = ChecksumAlgorithm::None;
    for (ChecksumAlgorithm a : kChecksumAlgorithms)
      if (head.has_header(checksum_header(a))) algorithm = a;
    if (algorithm == ChecksumAlgorithm::None)
      if (auto a = checksum_algorithm(head.header("x-amz-sdk-checksum-algorithm"))) algorithm = *a;
    if (algorithm == ChecksumAlgorithm::None && head.query.find("uploadId=") == std::string::npos) algorithm = ChecksumAlgorithm::CRC64NVME;
    if (algorithm != ChecksumAlgorithm::None) plan.digest = std::make_shared<SpoolChecksum>(algorithm);
  }
  std::optional<uint64_t> proposed = length;
  if (aws_chunked) {
    proposed = decimal(head.header("x-amz-decoded-content-length"));
    if (proposed && *proposed > kMaxUploadBytes) plan.max_bytes = 0;  // refused before the body is read
  }
  // The answer S3 gives (400, before the body), with the request id it would also carry.
  const std::string request_id = new_uuid();
  HttpResponse& r = plan.too_large;
  r.status = 400;
  r.set_header("Content-Type", "application/xml");
  r.set_header("x-amz-request-id", request_id);
  r.set_header("x-amz-id-2", request_id);
  r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge</Code>"
           "<Message>Your proposed upload exceeds the maximum allowed size</Message>";
  if (proposed) r.body += "<ProposedSize>" + std::to_string(*proposed) + "</ProposedSize>";
  r.body += "<MaxSizeAllowed>" + std::to_string(kMaxUploadBytes) + "</MaxSizeAllowed><RequestId>" + request_id + "</RequestId><HostId>" +
            request_id + "</HostId></Error>";
  return plan;
}

std::optional<SpoolPlan> S3Service::upload_spool_plan(const HttpRequest& head, const ObjectStore& objects) {
  std::optional<SpoolPlan> plan = upload_spool_plan(head);
  if (!plan) return plan;
  // Encrypted while spooling: each 1 MiB block is encrypted in place on the listener's worker
  // after its digests (AES-CTR costs about a millisecond per MiB with AES-NI; no extra buffer),
  // so the spool file is ciphertext from its first byte and becomes the object's file by a
  // rename, its sealed key going into the record.
  auto [key, sealed] = objects.spool_key();
  plan->transform = [key = key](char* data, size_t n, uint64_t offset) { key.apply(offset, data, n); };
  plan->transform_tag = std::move(sealed);
  return plan;
}

std::optional<HttpRequest> S3Service::unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const {
  // aws-chunked uploads (STREAMING-*-PAYLOAD*): the codec must see the payload, not the
  // framing. Every chunk signature is checked against the chain that starts at the seed
  // signature the dispatcher just verified. Bodies in memory only: a spooled PutObject or
  // UploadPart body is decoded from its file by with_request_file().
  const bool streaming = auth.payload_kind == auth::PayloadKind::StreamingSigned || auth.payload_kind == auth::PayloadKind::StreamingSignedTrailer ||
                         auth.payload_kind == auth::PayloadKind::StreamingUnsignedTrailer;
  if (!streaming) return std::nullopt;
  std::optional<ChunkSigner> signer;
  if (auth.payload_kind != auth::PayloadKind::StreamingUnsignedTrailer)
    signer = ChunkSigner{auth.signing_key, auth.amz_date, auth.credential_scope, auth.seed_signature,
                         auth.payload_kind == auth::PayloadKind::StreamingSignedTrailer};
  HttpRequest unwrapped = request;
  std::vector<Trailer> trailers;
  unwrapped.body = decode_aws_chunked(request.body, signer, &trailers);
  // The declared trailer (x-amz-trailer: x-amz-checksum-<algorithm>) is a header that comes
  // after the body: it becomes one, so the handler checks it as it checks a header. Also
  // sent as a header, it would be two checksums.
  if (!auth.trailer.empty()) {
    std::string value = declared_trailer(trailers, auth.trailer);
    if (unwrapped.has_header(auth.trailer))
      throw invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
    unwrapped.headers.emplace_back(auth.trailer, std::move(value));
  }
  return unwrapped;
}

}  // namespace vigil::s3
