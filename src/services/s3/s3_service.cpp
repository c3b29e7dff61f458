#include "services/s3/s3_service.h"

#include "services/s3/aws_chunked.h"
#include "services/s3/bucket_policy.h"

#include "core/aws_error.h"
#include "core/encoding.h"

namespace vigil::s3 {

using server::CallContext;

namespace {

AwsError no_such_bucket() { return AwsError("NoSuchBucket", "The specified bucket does not exist", 404); }
AwsError no_such_key() { return AwsError("NoSuchKey", "The specified key does not exist.", 404); }
AwsError access_denied() { return AwsError("AccessDenied", "Access Denied", 403); }

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

}  // namespace

S3Service::S3Service(ObjectStore& objects) : Service(*protocol::embedded_model("s3")), objects_(objects) {
  on("CreateBucket", [this](CallContext& ctx, const Value& in) { return create_bucket(ctx, in); });
  on("DeleteBucket", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    if (!objects_.delete_bucket_if_empty(b.name)) throw AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409);
    return Value::map();
  });
  on("HeadBucket", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    return Value::map().set("BucketRegion", b.region).set("AccessPointAlias", false);
  });
  on("ListBuckets", [this](CallContext& ctx, const Value& in) { return list_buckets(ctx, in); });
  on("GetBucketLocation", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    // us-east-1 is answered as an empty element.
    Value out = Value::map();
    if (b.region != "us-east-1") out.set("LocationConstraint", b.region);
    return out;
  });
  on("PutObject", [this](CallContext& ctx, const Value& in) { return put_object(ctx, in); });
  on("GetObject", [this](CallContext& ctx, const Value& in) { return get_object(ctx, in, true); });
  on("HeadObject", [this](CallContext& ctx, const Value& in) { return get_object(ctx, in, false); });
  on("DeleteObject", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    objects_.remove(b.name, in.str("Key"));  // deleting a missing key succeeds too
    ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + std::string(in.str("Key")));
    return Value::map();
  });
  on("DeleteObjects", [this](CallContext& ctx, const Value& in) { return delete_objects(ctx, in); });
  on("CopyObject", [this](CallContext& ctx, const Value& in) { return copy_object(ctx, in); });
  on("ListObjects", [this](CallContext& ctx, const Value& in) { return list_objects(ctx, in, false); });
  on("ListObjectsV2", [this](CallContext& ctx, const Value& in) { return list_objects(ctx, in, true); });
  // Bucket policies: only the owner reads or changes them. Vigil evaluates them for the
  // service principals that write into buckets (CloudTrail delivery), not yet for S3 calls.
  on("PutBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    const Value* policy = in.get("Policy");
    std::string text = policy && policy->is_string() ? policy->as_string() : std::string();
    parse_bucket_policy(text, b.name);
    objects_.put_bucket_policy(b.name, text);
    return Value::map().set(std::string(server::kHttpStatusMember), 204);
  });
  on("GetBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    auto policy = objects_.bucket_policy(b.name);
    if (!policy) throw AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404);
    return Value::map().set("Policy", *policy);
  });
  on("DeleteBucketPolicy", [this](CallContext& ctx, const Value& in) {
    BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
    objects_.delete_bucket_policy(b.name);  // deleting a missing policy succeeds too
    return Value::map();
  });
}

server::AuditClass S3Service::audit_class(std::string_view operation) const {
  for (std::string_view op : {"PutObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject", "ListObjects", "ListObjectsV2"})
    if (operation == op) return server::AuditClass::Data;
  return server::AuditClass::Management;
}

Value S3Service::audit_parameters(std::string_view, const Value& input) const {
  // CloudTrail never records object bodies (nor server-side-encryption keys).
  Value out = Value::map();
  if (input.is_map())
    for (const auto& [k, v] : input.as_map())
      if (k != "Body" && k != "SSECustomerKey" && k != "CopySourceSSECustomerKey") out.as_map().emplace_back(k, v);
  return out;
}

BucketRecord S3Service::owned_bucket(CallContext& ctx, std::string_view name) const {
  auto b = objects_.bucket(name);
  if (!b) throw no_such_bucket();
  if (b->owner_account != ctx.account_id) throw access_denied();
  ctx.resources.emplace_back("AWS::S3::Bucket", b->name);  // CloudTrail names buckets plainly
  return *b;
}

Value S3Service::create_bucket(CallContext& ctx, const Value& in) {
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
    if (existing->owner_account == ctx.account_id)
      throw AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", 409);
    throw AwsError("BucketAlreadyExists",
                   "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                   409);
  }
  ctx.resources.emplace_back("AWS::S3::Bucket", name);
  return Value::map().set("Location", "/" + name);
}

Value S3Service::list_buckets(CallContext& ctx, const Value& in) {
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
  BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
  std::string key(in.str("Key"));
  const Value* body_value = in.get("Body");
  std::string_view body = body_value && body_value->kind() == Value::Kind::Blob ? std::string_view(body_value->as_blob().bytes) : std::string_view();
  if (const Value* md5 = in.get("ContentMD5"); md5 && md5->is_string()) {
    auto digest = base64_decode(md5->as_string());
    if (!digest || digest->size() != 16) throw AwsError("InvalidDigest", "The Content-MD5 you specified was not valid.", 400);
    if (hex_encode(*digest) != md5_hex(body)) throw AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400);
  }
  ObjectRecord meta;
  take_metadata(in, meta);
  ObjectRecord stored = objects_.put(b.name, key, body, std::move(meta), ctx.time);
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + b.name + "/" + key);
  return Value::map().set("ETag", stored.quoted_etag());
}

Value S3Service::get_object(CallContext& ctx, const Value& in, bool with_body) {
  BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
  std::string key(in.str("Key"));
  auto object = objects_.head(b.name, key);
  if (!object) {
    if (with_body) throw no_such_key();
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
      throw AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412);
    case Precondition::NotModified:
      out.set(std::string(server::kHttpStatusMember), 304);
      return out;
    case Precondition::Proceed: break;
  }
  out.set("AcceptRanges", "bytes").set("ContentType", object->content_type);
  for (const auto& [k, v] : object->headers) out.set(k, v);
  if (!object->metadata.empty()) {
    Value meta = Value::map();
    for (const auto& [k, v] : object->metadata) meta.set(k, v);
    out.set("Metadata", std::move(meta));
  }
  uint64_t first = 0, length = object->size;
  if (const Value* range = in.get("Range"); range && range->is_string()) {
    bool unsatisfiable = false;
    auto r = parse_range(range->as_string(), object->size, unsatisfiable);
    if (unsatisfiable) throw AwsError("InvalidRange", "The requested range is not satisfiable", 416);
    if (r) {
      first = r->first;
      length = r->last - r->first + 1;
      out.set("ContentRange", "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) + "/" + std::to_string(object->size));
      out.set(std::string(server::kHttpStatusMember), 206);
    }
  }
  out.set("ContentLength", static_cast<int64_t>(length));
  // response-* query parameters override the stored headers (GET only in AWS, harmless on HEAD).
  for (auto [param, member] : {std::pair{"ResponseContentType", "ContentType"}, {"ResponseCacheControl", "CacheControl"},
                               {"ResponseContentDisposition", "ContentDisposition"}, {"ResponseContentEncoding", "ContentEncoding"},
                               {"ResponseContentLanguage", "ContentLanguage"}})
    if (auto v = string_member(in, param)) out.set(member, *v);
  if (with_body) out.set("Body", Blob{objects_.read(*object, first, length)});
  return out;
}

Value S3Service::copy_object(CallContext& ctx, const Value& in) {
  BucketRecord dest = owned_bucket(ctx, in.str("Bucket"));
  std::string dest_key(in.str("Key"));
  std::string source(in.str("CopySource"));
  if (size_t q = source.find('?'); q != std::string::npos) source.resize(q);  // ?versionId=: unversioned buckets
  source = percent_decode(source, false);
  if (!source.empty() && source.front() == '/') source.erase(0, 1);
  size_t slash = source.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == source.size())
    throw AwsError("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", 400);
  std::string src_bucket_name = source.substr(0, slash), src_key = source.substr(slash + 1);
  BucketRecord src_bucket = owned_bucket(ctx, src_bucket_name);
  auto object = objects_.head(src_bucket.name, src_key);
  if (!object) throw no_such_key();
  Conditions c;
  c.if_match = string_member(in, "CopySourceIfMatch");
  c.if_none_match = string_member(in, "CopySourceIfNoneMatch");
  c.if_modified_since = time_member(in, "CopySourceIfModifiedSince");
  c.if_unmodified_since = time_member(in, "CopySourceIfUnmodifiedSince");
  if (evaluate_conditions(c, *object) != Precondition::Proceed)
    throw AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412);
  std::string directive(in.str("MetadataDirective", "COPY"));
  if (directive != "COPY" && directive != "REPLACE")
    throw AwsError("InvalidArgument", "Unknown metadata directive.", 400);
  if (directive == "COPY" && src_bucket.name == dest.name && src_key == dest_key)
    throw AwsError("InvalidRequest",
                   "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                   400);
  ObjectRecord meta;
  if (directive == "REPLACE") {
    take_metadata(in, meta);
  } else {
    meta.content_type = object->content_type;
    meta.metadata = object->metadata;
    meta.headers = object->headers;
  }
  std::string body = objects_.read(*object, 0, object->size);
  ObjectRecord stored = objects_.put(dest.name, dest_key, body, std::move(meta), ctx.time);
  ctx.resources.emplace_back("AWS::S3::Object", "arn:aws:s3:::" + dest.name + "/" + dest_key);
  return Value::map().set("CopyObjectResult", Value::map().set("ETag", stored.quoted_etag()).set("LastModified", Timestamp{stored.last_modified}));
}

Value S3Service::delete_objects(CallContext& ctx, const Value& in) {
  BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
  const Value* del = in.get("Delete");
  const Value* objects = del ? del->get("Objects") : nullptr;
  if (!objects || !objects->is_list() || objects->as_list().empty() || objects->as_list().size() > 1000)
    throw AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400);
  bool quiet = del->flag("Quiet", false);
  Value deleted = Value::list(), errors = Value::list();
  for (const Value& o : objects->as_list()) {
    std::string key(o.str("Key"));
    objects_.remove(b.name, key);
    if (!quiet) deleted.push(Value::map().set("Key", key));
  }
  Value out = Value::map();
  if (!deleted.as_list().empty()) out.set("Deleted", std::move(deleted));
  if (!errors.as_list().empty()) out.set("Errors", std::move(errors));
  return out;
}

Value S3Service::list_objects(CallContext& ctx, const Value& in, bool v2) {
  BucketRecord b = owned_bucket(ctx, in.str("Bucket"));
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

std::optional<HttpRequest> S3Service::unwrap_payload(const HttpRequest& request, const auth::AuthResult& auth) const {
  // aws-chunked uploads (STREAMING-*-PAYLOAD*): the codec must see the payload, not the
  // framing. Every chunk signature is checked against the chain that starts at the seed
  // signature the dispatcher just verified. The listener has buffered the body (64 MB cap).
  const bool streaming = auth.payload_kind == auth::PayloadKind::StreamingSigned || auth.payload_kind == auth::PayloadKind::StreamingSignedTrailer ||
                         auth.payload_kind == auth::PayloadKind::StreamingUnsignedTrailer;
  if (!streaming) return std::nullopt;
  std::optional<ChunkSigner> signer;
  if (auth.payload_kind != auth::PayloadKind::StreamingUnsignedTrailer)
    signer = ChunkSigner{auth.signing_key, auth.amz_date, auth.credential_scope, auth.seed_signature};
  HttpRequest unwrapped = request;
  unwrapped.body = decode_aws_chunked(request.body, signer);
  return unwrapped;
}

}  // namespace vigil::s3
