#include "services/sns/topics.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "core/arn.h"
#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"

namespace vigil::sns {

namespace {

constexpr std::string_view kTopicPrefix = "sns:t:";
constexpr std::string_view kSubPrefix = "sns:s:";
constexpr std::string_view kKeyPrefix = "sns:k:";
constexpr size_t kPageSize = 100;
constexpr size_t kMaxTags = 50;
constexpr size_t kMaxMessageBytes = 262144;

AwsError invalid(const std::string& what) { return AwsError("InvalidParameterException", "Invalid parameter: " + what, 400); }
AwsError topic_not_found() { return AwsError("NotFoundException", "Topic does not exist", 404); }
AwsError sub_not_found() { return AwsError("NotFoundException", "Subscription does not exist", 404); }
AwsError not_authorized(const std::string& account, std::string_view op, std::string_view arn) {
  return AwsError("AuthorizationErrorException",
                  "User: arn:aws:iam::" + account + ":root is not authorized to perform: SNS:" + std::string(op) + " on resource: " +
                      std::string(arn) + " because no resource-based policy allows the SNS:" + std::string(op) + " action",
                  403);
}
AwsError vigil_unsupported(const std::string& what) {
  return AwsError("InvalidParameterException", "Vigil does not support " + what + " yet (see docs/coverage.md).", 400);
}

struct Arn {
  std::string region, account, resource;
};

// arn:aws:sns:REGION:ACCOUNT:RESOURCE
std::optional<Arn> parse_arn(std::string_view arn) {
  auto parts = split_arn(arn);
  if (!parts || parts->service != "sns" || parts->region.empty() || parts->account.size() != 12 || parts->resource.empty()) return std::nullopt;
  return Arn{std::string(parts->region), std::string(parts->account), std::string(parts->resource)};
}

std::string topic_key(const std::string& account, const std::string& region, std::string_view name) {
  std::string k = account;
  k += '\0';
  k += region;
  k += '\0';
  k += name;
  return k;
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  return hex_encode(raw);
}

// 2012-04-26T20:45:04.751Z: always milliseconds, as SNS writes them.
std::string sns_timestamp(int64_t millis) {
  std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<int>(millis % 1000));
  return buf;
}

bool valid_topic_chars(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix; }

std::optional<Value> parse_json(std::string_view text) {
  try {
    Value v = protocol::json_to_value(text, nullptr);
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

std::string default_policy(const std::string& arn, const std::string& account) {
  return "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{\"Sid\":\"__default_statement_ID\",\"Effect\":\"Allow\","
         "\"Principal\":{\"AWS\":\"*\"},\"Action\":[\"SNS:GetTopicAttributes\",\"SNS:SetTopicAttributes\",\"SNS:AddPermission\","
         "\"SNS:RemovePermission\",\"SNS:DeleteTopic\",\"SNS:Subscribe\",\"SNS:ListSubscriptionsByTopic\",\"SNS:Publish\"],"
         "\"Resource\":\"" +
         arn + "\",\"Condition\":{\"StringEquals\":{\"AWS:SourceOwner\":\"" + account + "\"}}}]}";
}

Value default_delivery_policy() {
  Value retry = Value::map();
  retry.set("minDelayTarget", 20);
  retry.set("maxDelayTarget", 20);
  retry.set("numRetries", 3);
  retry.set("numMaxDelayRetries", 0);
  retry.set("numNoDelayRetries", 0);
  retry.set("numMinDelayRetries", 0);
  retry.set("backoffFunction", "linear");
  Value request = Value::map();
  request.set("headerContentType", "text/plain; charset=UTF-8");
  Value http = Value::map();
  http.set("defaultHealthyRetryPolicy", std::move(retry));
  http.set("disableSubscriptionOverrides", false);
  http.set("defaultRequestPolicy", std::move(request));
  Value v = Value::map();
  v.set("http", std::move(http));
  return v;
}

// Overlays the members of `over` on `base`, recursively for maps.
void overlay(Value& base, const Value& over) {
  if (!base.is_map() || !over.is_map()) {
    base = over;
    return;
  }
  for (const auto& [k, v] : over.as_map()) {
    Value* existing = base.get(k);
    if (existing && existing->is_map() && v.is_map()) overlay(*existing, v);
    else base.set(k, v);
  }
}

Value effective_delivery_policy(const Value& attributes) {
  Value effective = default_delivery_policy();
  std::string_view given = attributes.str("DeliveryPolicy");
  if (!given.empty())
    if (auto parsed = parse_json(given)) overlay(effective, *parsed);
  return effective;
}

void check_delivery_policy(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed || !parsed->is_map()) throw invalid("DeliveryPolicy: failed to parse JSON.");
  const Value* http = parsed->get("http");
  if (!http) return;
  if (const Value* retry = http->get("defaultHealthyRetryPolicy")) {
    double min = retry->f64("minDelayTarget", 20), max = retry->f64("maxDelayTarget", 20), n = retry->f64("numRetries", 3);
    if (min < 1 || max < min || max > 3600) throw invalid("DeliveryPolicy: http.defaultHealthyRetryPolicy.minDelayTarget must be between 1 and maxDelayTarget.");
    if (n < 0 || n > 100) throw invalid("DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be between 0 and 100.");
  }
}

void check_topic_attribute(const std::string& name, std::string_view value, bool fifo, bool creating) {
  if (name == "DisplayName") {
    if (value.size() > 100) throw invalid("DisplayName");
  } else if (name == "Policy") {
    auto parsed = parse_json(value);
    if (!parsed || !parsed->is_map()) throw invalid("Policy Error: null");
  } else if (name == "DeliveryPolicy") {
    if (!value.empty()) check_delivery_policy(value);
  } else if (name == "SignatureVersion") {
    if (value != "1" && value != "2") throw invalid("Attributes Reason: SignatureVersion: Invalid value [" + std::string(value) + "]. Must be 1 or 2.");
  } else if (name == "FifoTopic") {
    if (!creating) throw invalid("AttributeName");
    if (value != "true" && value != "false") throw invalid("Attributes Reason: FifoTopic: Invalid value [" + std::string(value) + "]. Must be true or false.");
  } else if (name == "ContentBasedDeduplication") {
    if (!fifo) throw invalid("ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics");
    if (value != "true" && value != "false") throw invalid("Attributes Reason: ContentBasedDeduplication: Invalid value [" + std::string(value) + "]. Must be true or false.");
  } else if (name == "KmsMasterKeyId" || name == "TracingConfig") {
    if (!value.empty()) throw vigil_unsupported(name);
  } else {
    throw invalid(creating ? "Attributes Reason: Unknown attribute " + name : "AttributeName");
  }
}

void merge_tags(Value& tags, const Value* add) {
  if (!add || !add->is_list()) return;
  for (const Value& t : add->as_list()) {
    std::string key(t.str("Key"));
    if (key.empty() || key.size() > 128) throw invalid("Tags Reason: Tag key must be between 1 and 128 characters long");
    if (t.str("Value").size() > 256) throw invalid("Tags Reason: Tag value must be between 0 and 256 characters long");
    bool replaced = false;
    for (Value& existing : tags.as_list())
      if (existing.str("Key") == key) {
        existing.set("Value", std::string(t.str("Value")));
        replaced = true;
      }
    if (!replaced) {
      Value tag = Value::map();
      tag.set("Key", key);
      tag.set("Value", std::string(t.str("Value")));
      tags.push(std::move(tag));
    }
  }
  if (tags.size() > kMaxTags) throw AwsError("TagLimitExceededException", "Could not complete request: tag quota of per resource exceeded", 400);
}

// Paging: the token is the base64 of the last key returned.
std::string encode_token(std::string_view key) { return base64_encode(key); }
std::string decode_token(std::string_view token) {
  if (token.empty()) return {};
  auto key = base64_decode(token);
  if (!key || key->empty()) throw invalid("NextToken");
  return *key;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A fresh RSA-2048 key and a self-signed certificate for it (CN sns.REGION.amazonaws.com).
std::pair<std::string, std::string> generate_key_and_cert(const std::string& region) {
  Pkey key(EVP_RSA_gen(2048));
  if (!key) throw std::runtime_error("RSA key generation failed");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  std::string serial = random_hex(8);
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, serial.c_str());
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = "sns." + region + ".amazonaws.com";
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Vigil"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) throw std::runtime_error("certificate signing failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), BIO_free), cb(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_X509(cb.get(), cert.get());
  return {bio_string(kb.get()), bio_string(cb.get())};
}

std::string rsa_sign(const std::string& key_pem, std::string_view data, bool sha256) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::runtime_error("cannot load the SNS signing key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestSignInit(ctx.get(), nullptr, sha256 ? EVP_sha256() : EVP_sha1(), nullptr, key.get()) != 1)
    throw std::runtime_error("EVP_DigestSignInit failed");
  size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    throw std::runtime_error("EVP_DigestSign failed");
  sig.resize(len);
  return sig;
}

void check_subject(std::string_view subject) {
  if (subject.empty() || subject.size() > 100) throw invalid("Subject");
  for (unsigned char c : subject)
    if (c < 0x20 || c >= 0x7f) throw invalid("Subject");
}

// The MessageAttributes of a notification body: {"name":{"Type":"String","Value":"v"}}.
Value notification_attributes(const Value* attributes) {
  Value out = Value::map();
  if (!attributes || !attributes->is_map()) return out;
  for (const auto& [name, attr] : attributes->as_map()) {
    std::string type(attr.str("DataType"));
    std::string base = type.substr(0, type.find('.'));
    if (base != "String" && base != "Number" && base != "Binary")
      throw invalid("MessageAttributes Reason: The message attribute '" + name +
                    "' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.");
    Value entry = Value::map();
    entry.set("Type", type);
    if (base == "Binary") {
      const Value* b = attr.get("BinaryValue");
      if (!b || b->kind() != Value::Kind::Blob || b->as_blob().bytes.empty())
        throw invalid("MessageAttributes Reason: The message attribute '" + name + "' must contain non-empty message attribute value for message attribute type '" + type + "'.");
      entry.set("Value", base64_encode(b->as_blob().bytes));
    } else {
      if (attr.str("StringValue").empty())
        throw invalid("MessageAttributes Reason: The message attribute '" + name + "' must contain non-empty message attribute value for message attribute type '" + type + "'.");
      entry.set("Value", std::string(attr.str("StringValue")));
    }
    out.set(name, std::move(entry));
  }
  return out;
}

bool is_known_protocol(std::string_view p) {
  for (std::string_view k : {"http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"})
    if (p == k) return true;
  return false;
}

}  // namespace

Topics::Topics(store::Store& store, const Clock& clock, EventBus* bus) : store_(store), clock_(clock), bus_(bus) {}

void Topics::load() {
  std::lock_guard lock(mutex_);
  topics_.clear();
  subs_.clear();
  keys_.clear();
  std::string upper(kTopicPrefix);
  upper.back() = ';';
  auto it = store_.iterate(store::Keyspace::Meta, kTopicPrefix, upper);
  for (it->seek(kTopicPrefix); it->valid(); it->next()) {
    std::string key(it->key().substr(kTopicPrefix.size()));
    size_t a = key.find('\0'), b = key.find('\0', a + 1);
    Topic t;
    t.account = key.substr(0, a);
    t.region = key.substr(a + 1, b - a - 1);
    t.name = key.substr(b + 1);
    t.arn = "arn:aws:sns:" + t.region + ":" + t.account + ":" + t.name;
    t.doc = protocol::json_to_value(it->value(), nullptr);
    topics_.emplace(key, std::move(t));
  }
  upper = std::string(kSubPrefix);
  upper.back() = ';';
  it = store_.iterate(store::Keyspace::Meta, kSubPrefix, upper);
  for (it->seek(kSubPrefix); it->valid(); it->next()) {
    Sub s;
    s.id = std::string(it->key().substr(kSubPrefix.size()));
    s.doc = protocol::json_to_value(it->value(), nullptr);
    subs_.emplace(s.id, std::move(s));
  }
}

void Topics::reset() {
  std::lock_guard lock(mutex_);
  topics_.clear();
  subs_.clear();
  keys_.clear();
}

void Topics::set_endpoint(std::string base_url) {
  std::lock_guard lock(mutex_);
  endpoint_ = std::move(base_url);
}

void Topics::set_sink(std::function<void(Outbound)> sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

std::string Topics::cert_url(const std::string& region) const { return endpoint_ + "/_vigil/sns/SimpleNotificationService-" + region + ".pem"; }

void Topics::save_topic(const Topic& t) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kTopicPrefix) + topic_key(t.account, t.region, t.name), protocol::value_to_json(t.doc));
  store_.write(batch, store::Durability::Sync);
}

void Topics::save_sub(const Sub& s) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kSubPrefix) + s.id, protocol::value_to_json(s.doc));
  store_.write(batch, store::Durability::Sync);
}

void Topics::erase_sub(store::WriteBatch& batch, const std::string& id) { batch.erase(store::Keyspace::Meta, std::string(kSubPrefix) + id); }

const Topics::Topic& Topics::find_topic(const std::string& account, const std::string& region, std::string_view arn, std::string_view op) const {
  auto parsed = parse_arn(arn);
  if (!parsed || parsed->resource.find(':') != std::string::npos) throw invalid("TopicArn");
  if (parsed->region != region) throw invalid("TopicArn");
  auto it = topics_.find(topic_key(parsed->account, parsed->region, parsed->resource));
  if (it == topics_.end()) throw topic_not_found();
  if (parsed->account != account) throw not_authorized(account, op, arn);
  return it->second;
}

Topics::Topic& Topics::find_topic(const std::string& account, const std::string& region, std::string_view arn, std::string_view op) {
  return const_cast<Topic&>(static_cast<const Topics*>(this)->find_topic(account, region, arn, op));
}

Value Topics::create_topic(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("Name"));
  const Value* attrs = input.get("Attributes");
  bool fifo_attr = attrs && attrs->str("FifoTopic") == "true";
  bool fifo_name = ends_with(name, ".fifo");
  if (fifo_attr) {
    if (!fifo_name || name.size() > 256 || !valid_topic_chars(std::string_view(name).substr(0, name.size() - 5)))
      throw invalid(
          "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and "
          "hyphens, and must be between 1 and 256 characters long.");
  } else if (name.size() > 256 || !valid_topic_chars(name)) {
    throw invalid("Topic Name");
  }
  if (attrs && attrs->is_map())
    for (const auto& [k, v] : attrs->as_map()) check_topic_attribute(k, v.is_string() ? v.as_string() : "", fifo_attr, true);
  if (const Value* dp = input.get("DataProtectionPolicy"); dp && dp->is_string() && !dp->as_string().empty())
    throw vigil_unsupported("DataProtectionPolicy");

  std::lock_guard lock(mutex_);
  std::string key = topic_key(account, region, name);
  std::string arn = "arn:aws:sns:" + region + ":" + account + ":" + name;
  if (auto it = topics_.find(key); it != topics_.end()) {
    // Idempotent when nothing differs, as AWS.
    const Value& stored = *it->second.doc.get("Attributes");
    if (attrs && attrs->is_map())
      for (const auto& [k, v] : attrs->as_map()) {
        std::string_view have = stored.str(k);
        if (k == "FifoTopic" && have.empty()) have = "false";
        if (have != (v.is_string() ? std::string_view(v.as_string()) : std::string_view()))
          throw invalid("Attributes Reason: Topic already exists with different attributes");
      }
    if (const Value* tags = input.get("Tags"); tags && tags->is_list() && tags->size() > 0) {
      for (const Value& t : tags->as_list()) {
        bool same = false;
        for (const Value& e : it->second.doc.get("Tags")->as_list())
          if (e.str("Key") == t.str("Key") && e.str("Value") == t.str("Value")) same = true;
        if (!same) throw invalid("Tags Reason: Topic already exists with different tags");
      }
    }
    Value out = Value::map();
    out.set("TopicArn", arn);
    return out;
  }
  Topic t;
  t.account = account;
  t.region = region;
  t.name = name;
  t.arn = arn;
  t.doc = Value::map();
  Value a = Value::map();
  a.set("DisplayName", "");
  a.set("Policy", default_policy(arn, account));
  if (fifo_attr) {
    a.set("FifoTopic", "true");
    a.set("ContentBasedDeduplication", "false");
  }
  if (attrs && attrs->is_map())
    for (const auto& [k, v] : attrs->as_map()) {
      if (k == "FifoTopic" && !fifo_attr) continue;
      a.set(k, v);
    }
  t.doc.set("Attributes", std::move(a));
  Value tags = Value::list();
  merge_tags(tags, input.get("Tags"));
  t.doc.set("Tags", std::move(tags));
  t.doc.set("Deleted", 0);
  save_topic(t);
  topics_.emplace(key, std::move(t));
  Value out = Value::map();
  out.set("TopicArn", arn);
  return out;
}

void Topics::delete_topic(const std::string& account, const std::string& region, std::string_view arn) {
  std::lock_guard lock(mutex_);
  const Topic* topic = nullptr;
  try {
    topic = &find_topic(account, region, arn, "DeleteTopic");
  } catch (const AwsError& e) {
    if (e.code() == "NotFoundException") return;  // deleting a missing topic succeeds, as AWS
    throw;
  }
  store::WriteBatch batch(store_);
  std::vector<std::string> gone;
  for (const auto& [id, s] : subs_)
    if (s.doc.str("TopicArn") == topic->arn) {
      erase_sub(batch, id);
      gone.push_back(id);
    }
  std::string key = topic_key(topic->account, topic->region, topic->name);
  batch.erase(store::Keyspace::Meta, std::string(kTopicPrefix) + key);
  store_.write(batch, store::Durability::Sync);
  for (const auto& id : gone) subs_.erase(id);
  topics_.erase(key);
}

Value Topics::list_topics(const std::string& account, const std::string& region, std::string_view next_token) const {
  std::string after = decode_token(next_token);
  std::lock_guard lock(mutex_);
  std::string prefix = topic_key(account, region, "");
  Value list = Value::list();
  Value out = Value::map();
  auto it = after.empty() ? topics_.lower_bound(prefix) : topics_.upper_bound(prefix + after);
  for (; it != topics_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (list.size() == kPageSize) {
      out.set("NextToken", encode_token(std::prev(it)->second.name));
      break;
    }
    Value t = Value::map();
    t.set("TopicArn", it->second.arn);
    list.push(std::move(t));
  }
  out.set("Topics", std::move(list));
  return out;
}

Value Topics::get_topic_attributes(const std::string& account, const std::string& region, std::string_view arn) const {
  std::lock_guard lock(mutex_);
  const Topic& t = find_topic(account, region, arn, "GetTopicAttributes");
  int confirmed = 0, pending = 0;
  for (const auto& [id, s] : subs_)
    if (s.doc.str("TopicArn") == t.arn) (s.doc.flag("Confirmed", false) ? confirmed : pending)++;
  Value a = Value::map();
  const Value& stored = *t.doc.get("Attributes");
  a.set("Policy", stored.str("Policy"));
  a.set("Owner", t.account);
  a.set("SubscriptionsPending", std::to_string(pending));
  a.set("TopicArn", t.arn);
  a.set("EffectiveDeliveryPolicy", protocol::value_to_json(effective_delivery_policy(stored)));
  a.set("SubscriptionsConfirmed", std::to_string(confirmed));
  a.set("DisplayName", stored.str("DisplayName"));
  a.set("SubscriptionsDeleted", std::to_string(t.doc.i64("Deleted", 0)));
  for (const auto& [k, v] : stored.as_map())
    if (k != "Policy" && k != "DisplayName") a.set(k, v);
  Value out = Value::map();
  out.set("Attributes", std::move(a));
  return out;
}

void Topics::set_topic_attributes(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Topic& t = find_topic(account, region, input.str("TopicArn"), "SetTopicAttributes");
  std::string name(input.str("AttributeName"));
  std::string value(input.str("AttributeValue"));
  Value& attrs = *t.doc.get("Attributes");
  check_topic_attribute(name, value, attrs.str("FifoTopic") == "true", false);
  Value before = t.doc;
  if (name == "Policy" && value.empty()) value = default_policy(t.arn, t.account);
  attrs.set(name, value);
  try {
    save_topic(t);
  } catch (...) {
    t.doc = std::move(before);
    throw;
  }
}

void Topics::send(const std::string& region, const Topic& topic, const Sub& sub, Value message) {
  if (!sink_) return;
  const Value& attrs = *topic.doc.get("Attributes");
  bool v2 = attrs.str("SignatureVersion") == "2";
  message.set("SignatureVersion", v2 ? "2" : "1");
  const RegionKey& key = region_key(region);
  message.set("Signature", base64_encode(rsa_sign(key.key_pem, string_to_sign(message), v2)));
  message.set("SigningCertURL", cert_url(region));
  std::string type(message.str("Type"));
  if (type == "Notification") message.set("UnsubscribeURL", endpoint_ + "/?Action=Unsubscribe&SubscriptionArn=" + percent_encode(sub.doc.str("SubscriptionArn"), false));
  // MessageAttributes come last, as in AWS's bodies.
  if (const Value* ma = message.get("MessageAttributes")) {
    Value copy = *ma;
    auto& m = message.as_map();
    std::erase_if(m, [](const auto& kv) { return kv.first == "MessageAttributes"; });
    if (copy.size() > 0) message.set("MessageAttributes", std::move(copy));
  }
  Outbound out;
  out.url = std::string(sub.doc.str("Endpoint"));
  bool raw = type == "Notification" && sub.doc.get("Attributes") && sub.doc.get("Attributes")->str("RawMessageDelivery") == "true";
  out.body = raw ? std::string(message.str("Message")) : protocol::value_to_json(message);
  out.headers.emplace_back("x-amz-sns-message-type", type);
  out.headers.emplace_back("x-amz-sns-message-id", std::string(message.str("MessageId")));
  out.headers.emplace_back("x-amz-sns-topic-arn", topic.arn);
  if (type == "Notification") out.headers.emplace_back("x-amz-sns-subscription-arn", std::string(sub.doc.str("SubscriptionArn")));
  if (raw) out.headers.emplace_back("x-amz-sns-rawdelivery", "true");
  out.headers.emplace_back("User-Agent", "Amazon Simple Notification Service Agent");
  Value policy = effective_delivery_policy(attrs);
  if (const Value* sp = sub.doc.get("Attributes"); sp && !sp->str("DeliveryPolicy").empty())
    if (auto parsed = parse_json(sp->str("DeliveryPolicy"))) {
      Value wrapped = Value::map();
      wrapped.set("http", *parsed);
      overlay(policy, wrapped);
    }
  if (const Value* http = policy.get("http")) {
    if (const Value* retry = http->get("defaultHealthyRetryPolicy")) {
      out.num_retries = static_cast<int>(retry->f64("numRetries", 3));
      out.min_delay = retry->f64("minDelayTarget", 20);
      out.max_delay = retry->f64("maxDelayTarget", 20);
    }
    if (const Value* rp = http->get("defaultRequestPolicy"); rp && !rp->str("headerContentType").empty())
      out.content_type = std::string(rp->str("headerContentType"));
  }
  sink_(std::move(out));
}

void Topics::send_confirmation(const Topic& topic, const Sub& sub) {
  Value m = Value::map();
  m.set("Type", "SubscriptionConfirmation");
  m.set("MessageId", new_uuid());
  m.set("Token", std::string(sub.doc.str("Token")));
  m.set("TopicArn", topic.arn);
  m.set("Message", "You have chosen to subscribe to the topic " + topic.arn +
                       ".\nTo confirm the subscription, visit the SubscribeURL included in this message.");
  m.set("SubscribeURL", endpoint_ + "/?Action=ConfirmSubscription&TopicArn=" + percent_encode(topic.arn, false) +
                            "&Token=" + std::string(sub.doc.str("Token")));
  m.set("Timestamp", sns_timestamp(clock_.now_millis()));
  send(topic.region, topic, sub, std::move(m));
}

Value Topics::subscribe(const std::string& account, const std::string& region, const Value& input) {
  std::string protocol(input.str("Protocol"));
  std::string endpoint(input.str("Endpoint"));
  if (!is_known_protocol(protocol)) throw invalid("Amazon SNS does not support this protocol string: " + protocol);
  std::lock_guard lock(mutex_);
  Topic& topic = find_topic(account, region, input.str("TopicArn"), "Subscribe");
  if (protocol != "http" && protocol != "https") throw vigil_unsupported("the " + protocol + " protocol");
  if (topic.doc.get("Attributes")->str("FifoTopic") == "true") throw invalid("Invalid protocol type: " + protocol);
  if (endpoint.empty()) throw invalid("Endpoint");
  if (endpoint.rfind(protocol + "://", 0) != 0 || endpoint.size() <= protocol.size() + 3) throw invalid("Endpoint must match the specified protocol");
  Value attributes = Value::map();
  if (const Value* attrs = input.get("Attributes"); attrs && attrs->is_map())
    for (const auto& [k, v] : attrs->as_map()) {
      std::string value = v.is_string() ? v.as_string() : "";
      if (k == "RawMessageDelivery") {
        if (value != "true" && value != "false") throw invalid("Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]. Must be true or false.");
      } else if (k == "DeliveryPolicy") {
        auto parsed = parse_json(value);
        if (!parsed || !parsed->is_map()) throw invalid("DeliveryPolicy: failed to parse JSON.");
      } else if (k == "FilterPolicy" || k == "FilterPolicyScope" || k == "RedrivePolicy" || k == "SubscriptionRoleArn" || k == "ReplayPolicy") {
        throw vigil_unsupported("the subscription attribute " + k);
      } else {
        throw invalid("Attributes Reason: Unknown attribute " + k);
      }
      attributes.set(k, value);
    }
  bool return_arn = input.flag("ReturnSubscriptionArn", false);
  for (auto& [id, s] : subs_) {
    if (s.doc.str("TopicArn") != topic.arn || s.doc.str("Protocol") != protocol || s.doc.str("Endpoint") != endpoint) continue;
    Value out = Value::map();
    if (s.doc.flag("Confirmed", false)) {
      out.set("SubscriptionArn", std::string(s.doc.str("SubscriptionArn")));
    } else {
      send_confirmation(topic, s);  // AWS sends the confirmation again
      out.set("SubscriptionArn", return_arn ? std::string(s.doc.str("SubscriptionArn")) : std::string("pending confirmation"));
    }
    return out;
  }
  Sub s;
  s.id = new_uuid();
  s.doc = Value::map();
  std::string arn = topic.arn + ":" + s.id;
  s.doc.set("SubscriptionArn", arn);
  s.doc.set("TopicArn", topic.arn);
  s.doc.set("Protocol", protocol);
  s.doc.set("Endpoint", endpoint);
  s.doc.set("Owner", account);
  s.doc.set("Confirmed", false);
  s.doc.set("ConfirmationWasAuthenticated", false);
  s.doc.set("Token", random_hex(64) + random_hex(64));
  s.doc.set("Attributes", std::move(attributes));
  save_sub(s);
  auto [it, inserted] = subs_.emplace(s.id, std::move(s));
  send_confirmation(topic, it->second);
  Value out = Value::map();
  out.set("SubscriptionArn", return_arn ? arn : std::string("pending confirmation"));
  return out;
}

Value Topics::confirm_subscription(const std::string& region, std::string_view topic_arn, std::string_view token, bool authenticated) {
  auto parsed = parse_arn(topic_arn);
  if (!parsed || parsed->resource.find(':') != std::string::npos) throw invalid("Topic");
  if (parsed->region != region) throw invalid("TopicArn");
  std::lock_guard lock(mutex_);
  auto topic = topics_.find(topic_key(parsed->account, parsed->region, parsed->resource));
  if (topic == topics_.end()) throw topic_not_found();
  for (auto& [id, s] : subs_) {
    if (s.doc.str("TopicArn") != topic->second.arn || s.doc.str("Token") != token) continue;
    if (!s.doc.flag("Confirmed", false)) {
      Value before = s.doc;
      s.doc.set("Confirmed", true);
      s.doc.set("ConfirmationWasAuthenticated", authenticated);
      try {
        save_sub(s);
      } catch (...) {
        s.doc = std::move(before);
        throw;
      }
    }
    Value out = Value::map();
    out.set("SubscriptionArn", std::string(s.doc.str("SubscriptionArn")));
    return out;
  }
  throw invalid("Invalid token");
}

void Topics::unsubscribe(const std::string& account, const std::string& region, std::string_view subscription_arn) {
  auto parsed = parse_arn(subscription_arn);
  size_t colon = parsed ? parsed->resource.rfind(':') : std::string::npos;
  if (!parsed || colon == std::string::npos) throw invalid("SubscriptionId");
  if (parsed->region != region) throw invalid("SubscriptionArn");
  std::string id = parsed->resource.substr(colon + 1);
  std::lock_guard lock(mutex_);
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second.doc.str("SubscriptionArn") != subscription_arn) throw sub_not_found();
  if (!account.empty() && account != it->second.doc.str("Owner") && account != parsed->account)
    throw not_authorized(account, "Unsubscribe", subscription_arn);
  store::WriteBatch batch(store_);
  erase_sub(batch, id);
  auto topic = topics_.find(topic_key(parsed->account, parsed->region, parsed->resource.substr(0, colon)));
  Value before;
  if (topic != topics_.end()) {
    before = topic->second.doc;
    topic->second.doc.set("Deleted", topic->second.doc.i64("Deleted", 0) + 1);
    batch.put(store::Keyspace::Meta, std::string(kTopicPrefix) + topic->first, protocol::value_to_json(topic->second.doc));
  }
  try {
    store_.write(batch, store::Durability::Sync);
  } catch (...) {
    if (topic != topics_.end()) topic->second.doc = std::move(before);
    throw;
  }
  subs_.erase(it);
}

Value Topics::subscription_view(const Sub& s) const {
  Value v = Value::map();
  v.set("SubscriptionArn", s.doc.flag("Confirmed", false) ? std::string(s.doc.str("SubscriptionArn")) : std::string("PendingConfirmation"));
  v.set("Owner", std::string(s.doc.str("Owner")));
  v.set("Protocol", std::string(s.doc.str("Protocol")));
  v.set("Endpoint", std::string(s.doc.str("Endpoint")));
  v.set("TopicArn", std::string(s.doc.str("TopicArn")));
  return v;
}

Value Topics::list_subscriptions(const std::string& account, const std::string& region, std::string_view next_token) const {
  std::string after = decode_token(next_token);
  std::lock_guard lock(mutex_);
  Value list = Value::list();
  Value out = Value::map();
  std::string last;
  for (auto it = after.empty() ? subs_.begin() : subs_.upper_bound(after); it != subs_.end(); ++it) {
    const Sub& s = it->second;
    auto arn = parse_arn(s.doc.str("TopicArn"));
    if (s.doc.str("Owner") != account || !arn || arn->region != region) continue;
    if (list.size() == kPageSize) {
      out.set("NextToken", encode_token(last));
      break;
    }
    list.push(subscription_view(s));
    last = it->first;
  }
  out.set("Subscriptions", std::move(list));
  return out;
}

Value Topics::list_subscriptions_by_topic(const std::string& account, const std::string& region, std::string_view topic_arn,
                                          std::string_view next_token) const {
  std::string after = decode_token(next_token);
  std::lock_guard lock(mutex_);
  const Topic& topic = find_topic(account, region, topic_arn, "ListSubscriptionsByTopic");
  Value list = Value::list();
  Value out = Value::map();
  std::string last;
  for (auto it = after.empty() ? subs_.begin() : subs_.upper_bound(after); it != subs_.end(); ++it) {
    if (it->second.doc.str("TopicArn") != topic.arn) continue;
    if (list.size() == kPageSize) {
      out.set("NextToken", encode_token(last));
      break;
    }
    list.push(subscription_view(it->second));
    last = it->first;
  }
  out.set("Subscriptions", std::move(list));
  return out;
}

Value Topics::get_subscription_attributes(const std::string& account, const std::string& region, std::string_view arn) const {
  auto parsed = parse_arn(arn);
  size_t colon = parsed ? parsed->resource.rfind(':') : std::string::npos;
  if (!parsed || colon == std::string::npos) throw invalid("SubscriptionId");
  if (parsed->region != region) throw invalid("SubscriptionArn");
  std::lock_guard lock(mutex_);
  auto it = subs_.find(parsed->resource.substr(colon + 1));
  if (it == subs_.end() || it->second.doc.str("SubscriptionArn") != arn) throw sub_not_found();
  const Value& d = it->second.doc;
  if (account != d.str("Owner") && account != parsed->account) throw not_authorized(account, "GetSubscriptionAttributes", arn);
  Value a = Value::map();
  a.set("ConfirmationWasAuthenticated", d.flag("ConfirmationWasAuthenticated", false) ? "true" : "false");
  a.set("PendingConfirmation", d.flag("Confirmed", false) ? "false" : "true");
  a.set("Owner", std::string(d.str("Owner")));
  a.set("RawMessageDelivery", "false");
  a.set("TopicArn", std::string(d.str("TopicArn")));
  a.set("Endpoint", std::string(d.str("Endpoint")));
  a.set("Protocol", std::string(d.str("Protocol")));
  a.set("SubscriptionPrincipal", "arn:aws:iam::" + std::string(d.str("Owner")) + ":root");
  a.set("SubscriptionArn", std::string(d.str("SubscriptionArn")));
  auto topic = topics_.find(topic_key(parsed->account, parsed->region, parsed->resource.substr(0, colon)));
  Value policy = topic != topics_.end() ? effective_delivery_policy(*topic->second.doc.get("Attributes")) : default_delivery_policy();
  if (const Value* attrs = d.get("Attributes"); attrs && attrs->is_map())
    for (const auto& [k, v] : attrs->as_map()) {
      a.set(k, v);
      if (k == "DeliveryPolicy")
        if (auto parsed_policy = parse_json(v.is_string() ? v.as_string() : "")) {
          Value wrapped = Value::map();
          wrapped.set("http", *parsed_policy);
          overlay(policy, wrapped);
        }
    }
  if (const Value* http = policy.get("http")) a.set("EffectiveDeliveryPolicy", protocol::value_to_json(*http));
  Value out = Value::map();
  out.set("Attributes", std::move(a));
  return out;
}

std::string Topics::publish_locked(const std::string& account, const std::string& region, Topic& topic, const Value& input) {
  std::string message(input.str("Message"));
  if (message.empty()) throw invalid("Empty message");
  if (message.size() > kMaxMessageBytes) throw invalid("Message too long");
  std::string subject(input.str("Subject"));
  if (input.has("Subject")) check_subject(subject);
  // MessageStructure=json: one message per protocol, "default" for the others.
  std::optional<Value> per_protocol;
  if (input.has("MessageStructure")) {
    if (input.str("MessageStructure") != "json") throw invalid("MessageStructure");
    per_protocol = parse_json(message);
    if (!per_protocol || !per_protocol->is_map()) throw invalid("Message Structure - JSON message body failed to parse");
    if (!per_protocol->get("default") || !per_protocol->get("default")->is_string())
      throw invalid("Message Structure - No default entry in JSON message body");
  }
  Value attributes = notification_attributes(input.get("MessageAttributes"));
  const Value& tattrs = *topic.doc.get("Attributes");
  bool fifo = tattrs.str("FifoTopic") == "true";
  Value out_extra;
  if (fifo) {
    if (input.str("MessageGroupId").empty()) throw invalid("The MessageGroupId parameter is required for FIFO topics");
    if (input.str("MessageDeduplicationId").empty() && tattrs.str("ContentBasedDeduplication") != "true")
      throw invalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
  } else if (input.has("MessageDeduplicationId")) {
    throw invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type");
  }
  std::string message_id = new_uuid();
  std::string timestamp = sns_timestamp(clock_.now_millis());
  for (const auto& [id, s] : subs_) {
    if (s.doc.str("TopicArn") != topic.arn || !s.doc.flag("Confirmed", false)) continue;
    std::string text = message;
    if (per_protocol) {
      const Value* specific = per_protocol->get(s.doc.str("Protocol"));
      text = specific && specific->is_string() ? specific->as_string() : per_protocol->get("default")->as_string();
    }
    Value m = Value::map();
    m.set("Type", "Notification");
    m.set("MessageId", message_id);
    m.set("TopicArn", topic.arn);
    if (!subject.empty()) m.set("Subject", subject);
    m.set("Message", std::move(text));
    m.set("Timestamp", timestamp);
    m.set("MessageAttributes", attributes);
    send(region, topic, s, std::move(m));
  }
  if (bus_) {
    BusEvent event;
    event.source = "aws.sns";
    event.detail_type = "SNS Notification";
    event.account = account;
    event.region = region;
    event.time = clock_.now_seconds();
    event.resources.push_back(topic.arn);
    event.detail = Value::map();
    event.detail.set("TopicArn", topic.arn);
    event.detail.set("MessageId", message_id);
    if (!subject.empty()) event.detail.set("Subject", subject);
    event.detail.set("Message", message);
    bus_->publish(event);
  }
  return message_id;
}

Value Topics::publish(const std::string& account, const std::string& region, const Value& input) {
  if (input.has("PhoneNumber")) throw vigil_unsupported("publishing to phone numbers");
  std::string_view topic_arn = input.str("TopicArn"), target_arn = input.str("TargetArn");
  if (topic_arn.empty() && target_arn.empty()) throw invalid("TopicArn or TargetArn Reason: no value for required parameter");
  if (!topic_arn.empty() && !target_arn.empty()) throw invalid("TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn may be specified");
  std::string_view arn = topic_arn.empty() ? target_arn : topic_arn;
  if (arn.find(":endpoint/") != std::string_view::npos) throw vigil_unsupported("publishing to platform endpoints");
  std::lock_guard lock(mutex_);
  Topic& topic = find_topic(account, region, arn, "Publish");
  Value out = Value::map();
  out.set("MessageId", publish_locked(account, region, topic, input));
  if (topic.doc.get("Attributes")->str("FifoTopic") == "true") {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(clock_.now_millis()) * 1000 + (++fifo_sequence_ % 1000));
    out.set("SequenceNumber", std::string(buf));
  }
  return out;
}

std::optional<std::string> Topics::publish(const std::string& account, const std::string& region, const std::string& topic_arn,
                                           const std::string& subject, const std::string& message) {
  std::lock_guard lock(mutex_);
  auto parsed = parse_arn(topic_arn);
  if (!parsed || parsed->account != account || parsed->region != region) return std::nullopt;
  auto it = topics_.find(topic_key(account, region, parsed->resource));
  if (it == topics_.end()) return std::nullopt;
  Value input = Value::map();
  input.set("Message", message);
  if (!subject.empty()) {
    std::string clean = subject.substr(0, 100);  // SNS subjects: printable ASCII, under 100 characters
    for (char& c : clean)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    input.set("Subject", clean);
  }
  if (it->second.doc.get("Attributes")->str("FifoTopic") == "true") {
    input.set("MessageGroupId", "vigil");
    input.set("MessageDeduplicationId", new_uuid());
  }
  try {
    return publish_locked(account, region, it->second, input);
  } catch (const AwsError&) {
    return std::nullopt;
  }
}

void Topics::tag_resource(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Topic* topic = nullptr;
  try {
    topic = &find_topic(account, region, input.str("ResourceArn"), "TagResource");
  } catch (const AwsError& e) {
    if (e.code() == "NotFoundException") throw AwsError("ResourceNotFoundException", "Resource does not exist", 404);
    throw;
  }
  Value before = topic->doc;
  try {
    merge_tags(*topic->doc.get("Tags"), input.get("Tags"));
    save_topic(*topic);
  } catch (...) {
    topic->doc = std::move(before);
    throw;
  }
}

void Topics::untag_resource(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Topic* topic = nullptr;
  try {
    topic = &find_topic(account, region, input.str("ResourceArn"), "UntagResource");
  } catch (const AwsError& e) {
    if (e.code() == "NotFoundException") throw AwsError("ResourceNotFoundException", "Resource does not exist", 404);
    throw;
  }
  Value before = topic->doc;
  auto& tags = topic->doc.get("Tags")->as_list();
  if (const Value* keys = input.get("TagKeys"); keys && keys->is_list())
    for (const Value& k : keys->as_list())
      std::erase_if(tags, [&](const Value& t) { return k.is_string() && t.str("Key") == k.as_string(); });
  try {
    save_topic(*topic);
  } catch (...) {
    topic->doc = std::move(before);
    throw;
  }
}

Value Topics::list_tags(const std::string& account, const std::string& region, std::string_view arn) const {
  std::lock_guard lock(mutex_);
  const Topic* topic = nullptr;
  try {
    topic = &find_topic(account, region, arn, "ListTagsForResource");
  } catch (const AwsError& e) {
    if (e.code() == "NotFoundException") throw AwsError("ResourceNotFoundException", "Resource does not exist", 404);
    throw;
  }
  Value out = Value::map();
  out.set("Tags", *topic->doc.get("Tags"));
  return out;
}

const Topics::RegionKey& Topics::region_key(const std::string& region) {
  if (auto it = keys_.find(region); it != keys_.end()) return it->second;
  std::string store_key = std::string(kKeyPrefix) + region;
  RegionKey key;
  if (auto stored = store_.get(store::Keyspace::Meta, store_key)) {
    Value v = protocol::json_to_value(*stored, nullptr);
    key.key_pem = std::string(v.str("Key"));
    key.cert_pem = std::string(v.str("Cert"));
  } else {
    std::tie(key.key_pem, key.cert_pem) = generate_key_and_cert(region);
    Value v = Value::map();
    v.set("Key", key.key_pem);
    v.set("Cert", key.cert_pem);
    store::WriteBatch batch(store_);
    batch.put(store::Keyspace::Meta, store_key, protocol::value_to_json(v));
    store_.write(batch, store::Durability::Sync);
  }
  return keys_.emplace(region, std::move(key)).first->second;
}

std::string Topics::certificate_pem(const std::string& region) {
  std::lock_guard lock(mutex_);
  return region_key(region).cert_pem;
}

std::string Topics::string_to_sign(const Value& message) {
  std::string_view type = message.str("Type");
  std::vector<std::string_view> fields;
  if (type == "Notification") fields = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"};
  else fields = {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
  std::string out;
  for (std::string_view f : fields) {
    const Value* v = message.get(f);
    if (!v || !v->is_string()) continue;
    out += f;
    out += '\n';
    out += v->as_string();
    out += '\n';
  }
  return out;
}

}  // namespace vigil::sns
