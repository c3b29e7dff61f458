#include "services/kms/keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/arn.h"
#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"

namespace vigil::kms {

namespace {

constexpr std::string_view kKeyPrefix = "kms:k:";
constexpr std::string_view kAliasPrefix = "kms:a:";
constexpr char kBlobVersion = '\x01';
constexpr size_t kIdSize = 36, kNonceSize = 12, kTagSize = 16;
constexpr int kMaxTags = 50;
constexpr double kDaySeconds = 24 * 3600;

AwsError not_found(const std::string& message) { return AwsError("NotFoundException", message, 400); }
AwsError invalid_state(const std::string& message) { return AwsError("KMSInvalidStateException", message, 400); }
AwsError validation(const std::string& message) { return AwsError("ValidationException", message, 400); }
AwsError unsupported(const std::string& what) {
  return AwsError("UnsupportedOperationException", "Vigil does not support " + what + " yet (see docs/coverage.md).", 400);
}
AwsError invalid_ciphertext() { return AwsError("InvalidCiphertextException", "", 400); }

std::string scoped(const std::string& account, const std::string& region, std::string_view name) {
  std::string key = account;
  key += '\0';
  key += region;
  key += '\0';
  key += name;
  return key;
}

std::string key_arn(const std::string& account, const std::string& region, std::string_view id) {
  return "arn:aws:kms:" + region + ":" + account + ":key/" + std::string(id);
}
std::string alias_arn(const std::string& account, const std::string& region, std::string_view alias) {
  return "arn:aws:kms:" + region + ":" + account + ":" + std::string(alias);
}

bool is_uuid(std::string_view id) {
  if (id.size() != kIdSize) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// The encryption context as authenticated data: its pairs sorted by key, each as
// length-prefixed key and value, so {"a":"bc"} and {"ab":"c"} differ.
std::string context_aad(const Value* context) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (context && context->is_map())
    for (const auto& [k, v] : context->as_map()) pairs.emplace_back(k, v.is_string() ? v.as_string() : std::string());
  std::sort(pairs.begin(), pairs.end());
  std::string aad;
  for (const auto& [k, v] : pairs) {
    append_varint(aad, k.size());
    aad += k;
    append_varint(aad, v.size());
    aad += v;
  }
  return aad;
}

// The material index a ciphertext blob names (its big-endian u32 after the key id); the blob
// is at least 1 + kIdSize + 4 bytes long.
size_t blob_material_index(std::string_view blob) {
  size_t index = 0;
  for (size_t i = 0; i < 4; ++i) index = (index << 8) | static_cast<unsigned char>(blob[1 + kIdSize + i]);
  return index;
}

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// AES-256-GCM of `plaintext` under `key`: nonce | tag | ciphertext.
std::string gcm_seal(const s3::DataKey& key, std::string_view plaintext, std::string_view aad) {
  unsigned char nonce[kNonceSize];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw AwsError("KMSInternalException", "no randomness", 500, false);
  CipherCtx c;
  std::string out(kNonceSize + kTagSize + plaintext.size(), '\0');
  std::copy(nonce, nonce + kNonceSize, out.begin());
  int len = 0;
  auto* body = reinterpret_cast<unsigned char*>(out.data() + kNonceSize + kTagSize);
  bool ok = EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.key.data(), nonce) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(c.ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()), static_cast<int>(aad.size())) == 1) &&
            (plaintext.empty() ||
             EVP_EncryptUpdate(c.ctx, body, &len, reinterpret_cast<const unsigned char*>(plaintext.data()), static_cast<int>(plaintext.size())) == 1) &&
            EVP_EncryptFinal_ex(c.ctx, body, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, out.data() + kNonceSize) == 1;
  if (!ok) throw AwsError("KMSInternalException", "encryption failed", 500, false);
  return out;
}

// The inverse of gcm_seal; nullopt if the bytes or the context are not the ones sealed.
std::optional<std::string> gcm_open(const s3::DataKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kNonceSize + kTagSize) return std::nullopt;
  CipherCtx c;
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string tag(sealed.substr(kNonceSize, kTagSize));
  std::string_view body = sealed.substr(kNonceSize + kTagSize);
  std::string out(body.size(), '\0');
  int len = 0;
  bool ok = EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.key.data(), nonce) == 1 &&
            (aad.empty() || EVP_DecryptUpdate(c.ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()), static_cast<int>(aad.size())) == 1) &&
            (body.empty() || EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                                               reinterpret_cast<const unsigned char*>(body.data()), static_cast<int>(body.size())) == 1) &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) return std::nullopt;
  return out;
}

// The aliases of AWS managed keys that AWS predefines: naming one creates its key, as in AWS.
bool is_predefined_alias(std::string_view name) {
  static constexpr std::string_view kServices[] = {"acm", "dynamodb", "ebs", "elasticfilesystem", "es", "glue", "kinesis", "lambda", "logs",
                                                   "rds", "redshift", "s3", "secretsmanager", "sns", "sqs", "ssm", "xray"};
  if (name.substr(0, 10) != "alias/aws/") return false;
  return std::find(std::begin(kServices), std::end(kServices), name.substr(10)) != std::end(kServices);
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw AwsError("KMSInternalException", "no randomness", 500, false);
  return out;
}

std::string default_policy(const std::string& account) {
  return "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n"
         "    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::" +
         account + ":root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}";
}

// Where a paged list starts: after the marker (an opaque position this store handed out).
void check_limit(const Value& input) {
  if (input.has("Limit") && (input.i64("Limit", 0) < 1 || input.i64("Limit", 0) > 1000))
    throw validation("1 validation error detected: Value '" + std::to_string(input.i64("Limit", 0)) +
                     "' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000");
}

// TagException for what AWS refuses in a request's tags.
void check_tags(const Value* tags) {
  if (!tags) return;
  std::vector<std::string_view> keys;
  for (const Value& tag : tags->as_list()) {
    std::string_view key = tag.str("TagKey");
    if (key.substr(0, 4) == "aws:") throw AwsError("TagException", "Tags beginning with aws: are reserved", 400);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) throw AwsError("TagException", "Duplicate tag keys", 400);
    keys.push_back(key);
  }
  if (keys.size() > static_cast<size_t>(kMaxTags)) throw AwsError("TagException", "Too many tags", 400);
}
// A key policy must be a JSON object (it is kept, not evaluated).
void check_policy(const std::string& policy) {
  bool object = false;
  try {
    object = protocol::json_to_value(policy, nullptr).is_map();
  } catch (const AwsError&) {  // not JSON at all
  }
  if (!object) throw AwsError("MalformedPolicyDocumentException", "The key policy is not a valid JSON policy document.", 400);
}

// Where a list paged by position (tags, rotations) resumes: the Marker this store handed out.
size_t offset_marker(const Value& input) {
  if (!input.has("Marker")) return 0;
  const std::string n(input.str("Marker"));
  if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 6) throw validation("Invalid marker");
  return std::stoul(n);
}

// NumberOfBytes of GenerateDataKey and GenerateRandom: 1 to 1024.
size_t number_of_bytes(const Value& input) {
  const int64_t bytes = input.i64("NumberOfBytes", 0);
  if (bytes < 1 || bytes > 1024)
    throw validation("1 validation error detected: Value '" + std::to_string(bytes) + "' at 'numberOfBytes' failed to satisfy constraint: Member must have value " +
                     (bytes < 1 ? "greater than or equal to 1" : "less than or equal to 1024"));
  return static_cast<size_t>(bytes);
}
}  // namespace

KeyStore::KeyStore(store::Store& store, const Clock& clock, const s3::MasterKey& master) : store_(store), clock_(clock), master_(master) {}

void KeyStore::load() {
  std::lock_guard lock(mutex_);
  keys_.clear();
  aliases_.clear();
  auto scan = [&](std::string_view prefix, auto&& each) {
    std::string upper(prefix);
    upper.back() = ';';
    auto it = store_.iterate(store::Keyspace::Meta, std::string(prefix), upper);
    for (it->seek(prefix); it->valid(); it->next()) {
      std::string key(it->key().substr(prefix.size()));
      size_t a = key.find('\0'), b = key.find('\0', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      each(key, key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1), protocol::json_to_value(it->value(), nullptr));
    }
  };
  scan(kKeyPrefix, [&](const std::string& k, std::string account, std::string region, std::string id, Value doc) {
    Key key{account, region, id, key_arn(account, region, id), std::move(doc), {}};
    keys_.emplace(k, std::move(key));
  });
  scan(kAliasPrefix, [&](const std::string& k, std::string account, std::string region, std::string name, Value doc) {
    aliases_.emplace(k, Alias{std::move(account), std::move(region), std::move(name), std::move(doc)});
  });
}

void KeyStore::reset() {
  std::lock_guard lock(mutex_);
  keys_.clear();
  aliases_.clear();
}

void KeyStore::save(const Key& key) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kKeyPrefix) + scoped(key.account, key.region, key.id), protocol::value_to_json(key.doc));
  store_.write(batch, store::Durability::Sync);
}

void KeyStore::commit(Key& key, Key next) {
  save(next);  // written before it is used: a failed write leaves the key as it was
  key = std::move(next);
}

void KeyStore::save(const Alias& alias) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, std::string(kAliasPrefix) + scoped(alias.account, alias.region, alias.name), protocol::value_to_json(alias.doc));
  store_.write(batch, store::Durability::Sync);
}

KeyStore::Key* KeyStore::key_by_id(const std::string& account, const std::string& region, const std::string& key_id) {
  auto it = keys_.find(scoped(account, region, key_id));
  if (it == keys_.end()) return nullptr;
  Key& key = it->second;
  // A key whose deletion date has passed is gone (its aliases with it).
  if (key.doc.str("State") == "PendingDeletion" && clock_.now_seconds() >= key.doc.f64("DeletionDate", 0)) {
    store::WriteBatch batch(store_);
    batch.erase(store::Keyspace::Meta, std::string(kKeyPrefix) + it->first);
    std::vector<std::map<std::string, Alias>::iterator> gone;
    for (auto a = aliases_.begin(); a != aliases_.end(); ++a)
      if (a->second.account == account && a->second.region == region && a->second.doc.str("Target") == key_id) {
        batch.erase(store::Keyspace::Meta, std::string(kAliasPrefix) + a->first);
        gone.push_back(a);
      }
    store_.write(batch, store::Durability::Sync);  // first: a failed write leaves memory as the store is
    for (auto a : gone) aliases_.erase(a);
    keys_.erase(it);
    return nullptr;
  }
  return &key;
}

KeyStore::Key* KeyStore::find_locked(const std::string& account, const std::string& region, std::string_view id) {
  std::string_view name = id;
  if (id.substr(0, 4) == "arn:") {
    auto arn = split_arn(id);
    if (!arn || arn->service != "kms" || arn->region != region || arn->account != account) return nullptr;
    name = arn->resource;
    if (name.substr(0, 4) == "key/") return key_by_id(account, region, std::string(name.substr(4)));
    if (name.substr(0, 6) != "alias/") return nullptr;
  }
  if (name.substr(0, 6) == "alias/") {
    if (is_predefined_alias(name) && !aliases_.count(scoped(account, region, name))) return &managed_locked(account, region, name.substr(10));
    auto it = aliases_.find(scoped(account, region, name));
    if (it == aliases_.end()) return nullptr;
    return key_by_id(account, region, std::string(it->second.doc.str("Target")));
  }
  return key_by_id(account, region, std::string(name));
}

KeyStore::Key& KeyStore::resolve(const std::string& account, const std::string& region, std::string_view id, bool allow_alias) {
  if (id.substr(0, 4) == "arn:") {
    auto arn = split_arn(id);
    if (!arn || arn->service != "kms") throw not_found("Invalid arn");
    if (arn->region != region) throw not_found("Invalid arn " + std::string(arn->region));
    if (arn->resource.substr(0, 6) == "alias/") {
      if (!allow_alias) throw not_found("Invalid keyId '" + std::string(id) + "'");
      if (Key* key = find_locked(account, region, id)) return *key;
      throw not_found("Alias " + std::string(id) + " is not found.");
    }
    if (arn->resource.substr(0, 4) != "key/") throw not_found("Invalid arn");
    if (Key* key = arn->account == account ? find_locked(account, region, id) : nullptr) return *key;
    throw not_found("Key '" + std::string(id) + "' does not exist");
  }
  if (id.substr(0, 6) == "alias/") {
    if (!allow_alias) throw not_found("Invalid keyId '" + std::string(id) + "'");
    if (Key* key = find_locked(account, region, id)) return *key;
    throw not_found("Alias " + alias_arn(account, region, id) + " is not found.");
  }
  if (!is_uuid(id)) throw not_found("Invalid keyId '" + std::string(id) + "'");
  if (Key* key = find_locked(account, region, id)) return *key;
  throw not_found("Key '" + key_arn(account, region, id) + "' does not exist");
}

KeyStore::Key& KeyStore::changeable_key(const std::string& account, const std::string& region, const Value& input) {
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  if (key.doc.str("State") == "PendingDeletion") throw invalid_state(key.arn + " is pending deletion.");
  return key;
}

void KeyStore::refuse_aws_managed(const Key& key) const {
  if (key.doc.str("Manager") == "AWS") throw AwsError("AccessDeniedException", "You cannot modify an AWS managed key: " + key.arn, 400);
}

void KeyStore::require_enabled(const Key& key) const {
  std::string_view state = key.doc.str("State");
  if (state == "Disabled") throw AwsError("DisabledException", key.arn + " is disabled.", 400);
  if (state == "PendingDeletion") throw invalid_state(key.arn + " is pending deletion.");
}

const s3::DataKey& KeyStore::material(Key& key, size_t index) {
  const Value* all = key.doc.get("Materials");
  if (!all || !all->is_list() || index >= all->size()) throw invalid_ciphertext();
  if (key.materials.size() < all->size()) key.materials.resize(all->size());
  if (!key.materials[index]) {
    const Value& sealed_text = all->as_list()[index];
    auto sealed = sealed_text.is_string() ? base64_decode(sealed_text.as_string()) : std::nullopt;
    if (!sealed) throw AwsError("KMSInternalException", "The key material of " + key.arn + " is damaged.", 500, false);
    key.materials[index] = master_.unseal(*sealed);
  }
  return *key.materials[index];
}

void KeyStore::add_material(Key& key, std::string_view type, double when) {
  s3::DataKey fresh = s3::MasterKey::new_data_key();
  Value materials = key.doc.get("Materials") ? *key.doc.get("Materials") : Value::list();
  materials.push(base64_encode(master_.seal(fresh)));
  key.doc.set("Materials", std::move(materials));
  if (!type.empty()) {
    Value rotations = key.doc.get("Rotations") ? *key.doc.get("Rotations") : Value::list();
    Value entry = Value::map();
    entry.set("Date", when);
    entry.set("Type", std::string(type));
    rotations.push(std::move(entry));
    key.doc.set("Rotations", std::move(rotations));
  }
  key.materials.resize(key.doc.get("Materials")->size());
  key.materials.back() = fresh;
}

size_t KeyStore::current_material(Key& key) {
  // Automatic rotation is due when its date has passed: done here, when the key is next used
  // (the ciphertexts it makes are the only thing that tells rotations apart), dated when due.
  if (key.doc.flag("RotationEnabled", false)) {
    Key next = key;
    const double now = clock_.now_seconds();
    bool rotated = false;
    for (double due = next.doc.f64("NextRotation", 0); due > 0 && due <= now; due = next.doc.f64("NextRotation", 0)) {
      add_material(next, "AUTOMATIC", due);
      next.doc.set("NextRotation", due + next.doc.i64("RotationPeriodInDays", 365) * kDaySeconds);
      rotated = true;
    }
    if (rotated) commit(key, std::move(next));
  }
  return key.doc.get("Materials")->size() - 1;
}

KeyStore::Key& KeyStore::create_locked(const std::string& account, const std::string& region, const std::string& id, Value doc) {
  Key key{account, region, id, key_arn(account, region, id), std::move(doc), {}};
  add_material(key, "", 0);
  save(key);
  return keys_.insert_or_assign(scoped(account, region, id), std::move(key)).first->second;
}

KeyStore::Key& KeyStore::managed_locked(const std::string& account, const std::string& region, std::string_view service) {
  std::string alias = "alias/aws/" + std::string(service);
  if (auto it = aliases_.find(scoped(account, region, alias)); it != aliases_.end())
    if (Key* key = key_by_id(account, region, std::string(it->second.doc.str("Target")))) return *key;
  // The id: a v4-shaped UUID derived from the master key, the same for this account and
  // region whenever it is created (S3 records written before KMS existed name it).
  std::string label = "kms-key " + alias.substr(6);
  label.append(1, '\0').append(account).append(1, '\0').append(region);
  const std::string id = master_.derive_uuid(label);
  const double now = clock_.now_seconds();
  Key* key = key_by_id(account, region, id);
  if (!key) {
    Value doc = Value::map();
    doc.set("Description", "Default key that protects my " + std::string(service == "s3" ? "S3 objects" : service) + " when no other key is defined");
    doc.set("State", "Enabled");
    doc.set("Created", now);
    doc.set("Manager", "AWS");
    key = &create_locked(account, region, id, std::move(doc));
  }
  Alias a{account, region, alias, Value::map()};
  a.doc.set("Target", id);
  a.doc.set("Created", now);
  a.doc.set("Updated", now);
  save(a);
  aliases_.insert_or_assign(scoped(account, region, alias), std::move(a));
  return *key;
}

Value KeyStore::key_metadata(const Key& key) const {
  Value m = Value::map();
  m.set("AWSAccountId", key.account);
  m.set("KeyId", key.id);
  m.set("Arn", key.arn);
  m.set("CreationDate", Timestamp{key.doc.f64("Created", 0)});
  std::string_view state = key.doc.str("State");
  m.set("Enabled", state == "Enabled");
  m.set("Description", std::string(key.doc.str("Description")));
  m.set("KeyUsage", "ENCRYPT_DECRYPT");
  m.set("KeyState", std::string(state));
  if (state == "PendingDeletion") m.set("DeletionDate", Timestamp{key.doc.f64("DeletionDate", 0)});
  m.set("Origin", "AWS_KMS");
  m.set("KeyManager", std::string(key.doc.str("Manager", "CUSTOMER")));
  m.set("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT");
  m.set("KeySpec", "SYMMETRIC_DEFAULT");
  Value algorithms = Value::list();
  algorithms.push("SYMMETRIC_DEFAULT");
  m.set("EncryptionAlgorithms", std::move(algorithms));
  m.set("MultiRegion", false);
  return m;
}

Value KeyStore::create_key(const std::string& account, const std::string& region, const Value& input) {
  if (std::string_view usage = input.str("KeyUsage", "ENCRYPT_DECRYPT"); usage != "ENCRYPT_DECRYPT") throw unsupported("KeyUsage " + std::string(usage));
  for (const char* member : {"KeySpec", "CustomerMasterKeySpec"})
    if (std::string_view spec = input.str(member, "SYMMETRIC_DEFAULT"); spec != "SYMMETRIC_DEFAULT") throw unsupported(std::string(member) + " " + std::string(spec));
  if (std::string_view origin = input.str("Origin", "AWS_KMS"); origin != "AWS_KMS") throw unsupported("Origin " + std::string(origin));
  if (input.flag("MultiRegion", false)) throw unsupported("multi-Region keys");
  if (input.has("CustomKeyStoreId") || input.has("XksKeyId")) throw unsupported("custom key stores");
  check_tags(input.get("Tags"));
  Value doc = Value::map();
  doc.set("Description", std::string(input.str("Description")));
  doc.set("State", "Enabled");
  doc.set("Created", clock_.now_seconds());
  doc.set("Manager", "CUSTOMER");
  if (const Value* policy = input.get("Policy")) {
    check_policy(policy->as_string());
    doc.set("Policy", policy->as_string());
  }
  Value tags = Value::list();
  if (const Value* given = input.get("Tags")) tags = *given;
  doc.set("Tags", std::move(tags));
  std::lock_guard lock(mutex_);
  Key& key = create_locked(account, region, new_uuid(), std::move(doc));
  Value out = Value::map();
  out.set("KeyMetadata", key_metadata(key));
  return out;
}

Value KeyStore::describe_key(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Value out = Value::map();
  out.set("KeyMetadata", key_metadata(resolve(account, region, input.str("KeyId"))));
  return out;
}

Value KeyStore::list_keys(const std::string& account, const std::string& region, const Value& input) const {
  check_limit(input);
  const size_t limit = static_cast<size_t>(input.i64("Limit", 100));
  std::string_view marker = input.str("Marker");
  std::lock_guard lock(mutex_);
  Value keys = Value::list();
  const std::string scope = scoped(account, region, "");
  auto it = marker.empty() ? keys_.lower_bound(scope) : keys_.upper_bound(scope + std::string(marker));
  if (!marker.empty() && !is_uuid(marker)) throw validation("Invalid marker");
  std::string last;
  bool truncated = false;
  for (; it != keys_.end() && it->first.compare(0, scope.size(), scope) == 0; ++it) {
    const Key& key = it->second;
    if (key.doc.str("State") == "PendingDeletion" && clock_.now_seconds() >= key.doc.f64("DeletionDate", 0)) continue;
    if (keys.size() == limit) {
      truncated = true;
      break;
    }
    Value k = Value::map();
    k.set("KeyId", key.id);
    k.set("KeyArn", key.arn);
    keys.push(std::move(k));
    last = key.id;
  }
  Value out = Value::map();
  out.set("Keys", std::move(keys));
  if (truncated) out.set("NextMarker", last);
  out.set("Truncated", truncated);
  return out;
}

void KeyStore::set_customer_key_member(const std::string& account, const std::string& region, const Value& input, const char* member,
                                       std::string value) {
  std::lock_guard lock(mutex_);
  Key& key = changeable_key(account, region, input);
  refuse_aws_managed(key);
  Key next = key;
  next.doc.set(member, std::move(value));
  commit(key, std::move(next));
}

void KeyStore::update_key_description(const std::string& account, const std::string& region, const Value& input) {
  set_customer_key_member(account, region, input, "Description", std::string(input.str("Description")));
}

void KeyStore::enable_key(const std::string& account, const std::string& region, const Value& input) {
  set_customer_key_member(account, region, input, "State", "Enabled");
}

void KeyStore::disable_key(const std::string& account, const std::string& region, const Value& input) {
  set_customer_key_member(account, region, input, "State", "Disabled");
}

Value KeyStore::schedule_key_deletion(const std::string& account, const std::string& region, const Value& input) {
  const int64_t days = input.i64("PendingWindowInDays", 30);
  if (days < 7 || days > 30)
    throw validation("PendingWindowInDays should be between 7 and 30, but it is " + std::to_string(days));
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  if (key.doc.str("Manager") == "AWS") throw AwsError("AccessDeniedException", "You cannot delete an AWS managed key.", 400);
  if (key.doc.str("State") == "PendingDeletion") throw invalid_state(key.arn + " is pending deletion.");
  Key next = key;
  next.doc.set("State", "PendingDeletion");
  next.doc.set("DeletionDate", std::floor(clock_.now_seconds()) + days * kDaySeconds);
  next.doc.set("PendingWindowInDays", days);
  commit(key, std::move(next));
  Value out = Value::map();
  out.set("KeyId", key.arn);
  out.set("DeletionDate", Timestamp{key.doc.f64("DeletionDate", 0)});
  out.set("KeyState", "PendingDeletion");
  out.set("PendingWindowInDays", days);
  return out;
}

Value KeyStore::cancel_key_deletion(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  if (key.doc.str("State") != "PendingDeletion") throw invalid_state(key.arn + " is not pending deletion.");
  Key next = key;
  next.doc.set("State", "Disabled");  // as in AWS: a key whose deletion is canceled is disabled
  next.doc.set("DeletionDate", Value());
  commit(key, std::move(next));
  Value out = Value::map();
  out.set("KeyId", key.arn);
  return out;
}

namespace {
void check_alias_name(std::string_view name) {
  if (name.substr(0, 6) != "alias/" || name.size() == 6)
    throw validation("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
  if (name.substr(0, 10) == "alias/aws/")
    throw AwsError("NotAuthorizedException", "", 400);
  if (name.find(':') != std::string_view::npos) throw validation(std::string(name) + " contains invalid characters for an alias");
}
void check_target(std::string_view target) {
  if (target.substr(0, 6) == "alias/" || (target.substr(0, 4) == "arn:" && target.find(":alias/") != std::string_view::npos))
    throw validation("Aliases must refer to keys. Not aliases");
}
}  // namespace

void KeyStore::create_alias(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("AliasName"));
  check_alias_name(name);
  std::lock_guard lock(mutex_);
  const std::string k = scoped(account, region, name);
  // An alias whose key passed its deletion date is gone, even if nothing looked since.
  if (auto existing = aliases_.find(k); existing != aliases_.end()) key_by_id(account, region, std::string(existing->second.doc.str("Target")));
  if (aliases_.count(k)) throw AwsError("AlreadyExistsException", "An alias with the name " + alias_arn(account, region, name) + " already exists", 400);
  check_target(input.str("TargetKeyId"));
  Key& key = resolve(account, region, input.str("TargetKeyId"), /*allow_alias=*/false);
  if (key.doc.str("State") == "PendingDeletion") throw invalid_state(key.arn + " is pending deletion.");
  if (key.doc.str("Manager") == "AWS") throw AwsError("NotAuthorizedException", "", 400);
  const double now = clock_.now_seconds();
  Alias alias{account, region, name, Value::map()};
  alias.doc.set("Target", key.id);
  alias.doc.set("Created", now);
  alias.doc.set("Updated", now);
  save(alias);
  aliases_.emplace(k, std::move(alias));
}

void KeyStore::update_alias(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("AliasName"));
  check_alias_name(name);
  std::lock_guard lock(mutex_);
  auto it = aliases_.find(scoped(account, region, name));
  if (it == aliases_.end()) throw not_found("Alias " + alias_arn(account, region, name) + " is not found.");
  check_target(input.str("TargetKeyId"));
  Key& key = resolve(account, region, input.str("TargetKeyId"), /*allow_alias=*/false);
  if (key.doc.str("State") == "PendingDeletion") throw invalid_state(key.arn + " is pending deletion.");
  if (key.doc.str("Manager") == "AWS") throw AwsError("NotAuthorizedException", "", 400);
  Alias next = it->second;
  next.doc.set("Target", key.id);
  next.doc.set("Updated", clock_.now_seconds());
  save(next);  // first: a failed write leaves the alias as it was
  it->second = std::move(next);
}

void KeyStore::delete_alias(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("AliasName"));
  check_alias_name(name);
  std::lock_guard lock(mutex_);
  auto it = aliases_.find(scoped(account, region, name));
  if (it == aliases_.end()) throw not_found("Alias " + alias_arn(account, region, name) + " is not found.");
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, std::string(kAliasPrefix) + it->first);
  store_.write(batch, store::Durability::Sync);
  aliases_.erase(it);
}

Value KeyStore::list_aliases(const std::string& account, const std::string& region, const Value& input) {
  check_limit(input);
  const size_t limit = static_cast<size_t>(input.i64("Limit", 100));
  std::string_view marker = input.str("Marker");
  std::lock_guard lock(mutex_);
  std::string only_key;
  if (input.has("KeyId")) only_key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false).id;
  const std::string scope = scoped(account, region, "");
  Value aliases = Value::list();
  bool truncated = false;
  std::string last;
  // Collected first: key_by_id may erase expired keys' aliases while we walk.
  std::vector<std::string> names;
  for (auto it = marker.empty() ? aliases_.lower_bound(scope) : aliases_.upper_bound(scope + std::string(marker));
       it != aliases_.end() && it->first.compare(0, scope.size(), scope) == 0; ++it)
    names.push_back(it->second.name);
  for (const auto& name : names) {
    auto it = aliases_.find(scoped(account, region, name));
    if (it == aliases_.end()) continue;
    std::string target(it->second.doc.str("Target"));
    if (!key_by_id(account, region, target)) continue;  // its key is gone
    if (!only_key.empty() && target != only_key) continue;
    if (aliases.size() == limit) {
      truncated = true;
      break;
    }
    auto a = aliases_.find(scoped(account, region, name));
    Value v = Value::map();
    v.set("AliasName", name);
    v.set("AliasArn", alias_arn(account, region, name));
    v.set("TargetKeyId", target);
    v.set("CreationDate", Timestamp{a->second.doc.f64("Created", 0)});
    v.set("LastUpdatedDate", Timestamp{a->second.doc.f64("Updated", 0)});
    aliases.push(std::move(v));
    last = name;
  }
  Value out = Value::map();
  out.set("Aliases", std::move(aliases));
  if (truncated) out.set("NextMarker", last);
  out.set("Truncated", truncated);
  return out;
}

std::string KeyStore::seal_blob(Key& key, std::string_view plaintext, const Value* context) {
  const size_t index = current_material(key);
  std::string blob(1, kBlobVersion);
  blob += key.id;
  for (int shift = 24; shift >= 0; shift -= 8) blob += static_cast<char>((index >> shift) & 0xFF);
  blob += gcm_seal(material(key, index), plaintext, context_aad(context));
  return blob;
}

namespace {
void check_algorithm(const Value& input, const char* member) {
  std::string_view algorithm = input.str(member, "SYMMETRIC_DEFAULT");
  if (algorithm != "SYMMETRIC_DEFAULT")
    throw AwsError("InvalidKeyUsageException", "Algorithm " + std::string(algorithm) + " is incompatible with key spec SYMMETRIC_DEFAULT.", 400);
}
}  // namespace

Value KeyStore::encrypt(const std::string& account, const std::string& region, const Value& input) {
  check_algorithm(input, "EncryptionAlgorithm");
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"));
  require_enabled(key);
  const Value* plaintext = input.get("Plaintext");
  Value out = Value::map();
  out.set("CiphertextBlob", Blob{seal_blob(key, plaintext ? plaintext->as_blob().bytes : std::string(), input.get("EncryptionContext"))});
  out.set("KeyId", key.arn);
  out.set("EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
  return out;
}

Value KeyStore::decrypt(const std::string& account, const std::string& region, const Value& input) {
  check_algorithm(input, "EncryptionAlgorithm");
  const Value* blob_value = input.get("CiphertextBlob");
  std::string_view blob = blob_value ? std::string_view(blob_value->as_blob().bytes) : std::string_view();
  std::lock_guard lock(mutex_);
  if (blob.size() < 1 + kIdSize + 4 || blob[0] != kBlobVersion || !is_uuid(blob.substr(1, kIdSize))) throw invalid_ciphertext();
  std::string id(blob.substr(1, kIdSize));
  Key* key = key_by_id(account, region, id);
  if (!key) throw invalid_ciphertext();  // a blob of another account or region, or of a deleted key
  if (input.has("KeyId") && resolve(account, region, input.str("KeyId")).id != key->id)
    throw AwsError("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.", 400);
  require_enabled(*key);
  const size_t index = blob_material_index(blob);
  auto plaintext = gcm_open(material(*key, index), blob.substr(1 + kIdSize + 4), context_aad(input.get("EncryptionContext")));
  if (!plaintext) throw invalid_ciphertext();
  Value out = Value::map();
  out.set("KeyId", key->arn);
  out.set("Plaintext", Blob{std::move(*plaintext)});
  out.set("EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
  return out;
}

Value KeyStore::re_encrypt(const std::string& account, const std::string& region, const Value& input) {
  check_algorithm(input, "SourceEncryptionAlgorithm");
  check_algorithm(input, "DestinationEncryptionAlgorithm");
  Value decrypt_input = Value::map();
  if (const Value* blob = input.get("CiphertextBlob")) decrypt_input.set("CiphertextBlob", *blob);
  if (const Value* context = input.get("SourceEncryptionContext")) decrypt_input.set("EncryptionContext", *context);
  if (const Value* id = input.get("SourceKeyId")) decrypt_input.set("KeyId", *id);
  Value plain = decrypt(account, region, decrypt_input);
  Value encrypt_input = Value::map();
  encrypt_input.set("KeyId", std::string(input.str("DestinationKeyId")));
  encrypt_input.set("Plaintext", *plain.get("Plaintext"));
  if (const Value* context = input.get("DestinationEncryptionContext")) encrypt_input.set("EncryptionContext", *context);
  Value sealed = encrypt(account, region, encrypt_input);
  Value out = Value::map();
  out.set("CiphertextBlob", *sealed.get("CiphertextBlob"));
  out.set("SourceKeyId", std::string(plain.str("KeyId")));
  out.set("KeyId", std::string(sealed.str("KeyId")));
  out.set("SourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT");
  out.set("DestinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT");
  return out;
}

Value KeyStore::generate_data_key(const std::string& account, const std::string& region, const Value& input, bool with_plaintext) {
  const bool has_spec = input.has("KeySpec"), has_bytes = input.has("NumberOfBytes");
  if (has_spec == has_bytes) throw validation("Please specify either number of bytes or key spec.");
  if (input.has("Recipient")) throw unsupported("Recipient (Nitro Enclaves attestation)");
  size_t n = 0;
  if (has_spec) {
    n = input.str("KeySpec") == "AES_128" ? 16 : 32;
  } else {
    n = number_of_bytes(input);
  }
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"));
  require_enabled(key);
  std::string plaintext = random_bytes(n);
  Value out = Value::map();
  out.set("CiphertextBlob", Blob{seal_blob(key, plaintext, input.get("EncryptionContext"))});
  if (with_plaintext) out.set("Plaintext", Blob{std::move(plaintext)});
  out.set("KeyId", key.arn);
  return out;
}

Value KeyStore::generate_random(const Value& input) const {
  if (input.has("CustomKeyStoreId")) throw unsupported("custom key stores");
  if (input.has("Recipient")) throw unsupported("Recipient (Nitro Enclaves attestation)");
  Value out = Value::map();
  out.set("Plaintext", Blob{random_bytes(number_of_bytes(input))});
  return out;
}

Value KeyStore::list_key_policies(const std::string& account, const std::string& region, const Value& input) {
  check_limit(input);
  std::lock_guard lock(mutex_);
  resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  Value names = Value::list();
  names.push("default");
  Value out = Value::map();
  out.set("PolicyNames", std::move(names));
  out.set("Truncated", false);
  return out;
}

Value KeyStore::get_key_policy(const std::string& account, const std::string& region, const Value& input) {
  std::string_view policy_name = input.str("PolicyName", "default");
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  if (policy_name != "default") throw not_found("No such policy exists");
  Value out = Value::map();
  out.set("Policy", key.doc.has("Policy") ? std::string(key.doc.str("Policy")) : default_policy(account));
  out.set("PolicyName", "default");
  return out;
}

Value KeyStore::get_key_rotation_status(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Key& key = changeable_key(account, region, input);
  current_material(key);  // a rotation that is due happens first
  Value out = Value::map();
  out.set("KeyId", key.arn);
  const bool enabled = key.doc.flag("RotationEnabled", false);
  out.set("KeyRotationEnabled", enabled);
  if (enabled) {
    out.set("RotationPeriodInDays", key.doc.i64("RotationPeriodInDays", 365));
    out.set("NextRotationDate", Timestamp{key.doc.f64("NextRotation", 0)});
  }
  return out;
}

void KeyStore::put_key_policy(const std::string& account, const std::string& region, const Value& input) {
  std::string_view policy_name = input.str("PolicyName", "default");
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  if (policy_name != "default") throw not_found("No such policy exists");
  if (key.doc.str("Manager") == "AWS") throw AwsError("AccessDeniedException", "You cannot change the key policy of an AWS managed key.", 400);
  Key next = key;
  const std::string policy(input.str("Policy"));
  check_policy(policy);
  next.doc.set("Policy", policy);
  commit(key, std::move(next));
}

void KeyStore::set_key_rotation(const std::string& account, const std::string& region, const Value& input, bool enable) {
  const int64_t days = input.i64("RotationPeriodInDays", 365);
  if (enable && (days < 90 || days > 2560))
    throw validation("1 validation error detected: Value '" + std::to_string(days) +
                     "' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value " +
                     (days < 90 ? "greater than or equal to 90" : "less than or equal to 2560"));
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  Key next = key;
  require_enabled(key);
  if (key.doc.str("Manager") == "AWS") throw unsupported("changing the rotation of an AWS managed key");
  next.doc.set("RotationEnabled", enable);
  if (enable) {
    next.doc.set("RotationPeriodInDays", days);
    next.doc.set("NextRotation", std::floor(clock_.now_seconds()) + days * kDaySeconds);
  } else {
    next.doc.set("NextRotation", Value());
  }
  commit(key, std::move(next));
}

Value KeyStore::rotate_key_on_demand(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  Key next = key;
  require_enabled(key);
  if (key.doc.str("Manager") == "AWS") throw unsupported("rotating an AWS managed key");
  size_t on_demand = 0;
  if (const Value* rotations = key.doc.get("Rotations"))
    for (const Value& r : rotations->as_list()) on_demand += r.str("Type") == "ON_DEMAND";
  if (on_demand >= 25) throw AwsError("LimitExceededException", "The key " + key.arn + " has reached its limit of 25 on-demand rotations.", 400);
  add_material(next, "ON_DEMAND", clock_.now_seconds());
  commit(key, std::move(next));
  Value out = Value::map();
  out.set("KeyId", key.id);
  return out;
}

Value KeyStore::list_key_rotations(const std::string& account, const std::string& region, const Value& input) {
  check_limit(input);
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  current_material(key);
  const size_t limit = static_cast<size_t>(input.i64("Limit", 100));
  const size_t start = offset_marker(input);
  const Value* all = key.doc.get("Rotations");
  const size_t total = all ? all->size() : 0;
  Value rotations = Value::list();
  for (size_t i = start; i < total && rotations.size() < limit; ++i) {
    const Value& r = all->as_list()[i];
    Value entry = Value::map();
    entry.set("KeyId", key.id);
    entry.set("RotationDate", Timestamp{r.f64("Date", 0)});
    entry.set("RotationType", std::string(r.str("Type")));
    rotations.push(std::move(entry));
  }
  Value out = Value::map();
  out.set("Rotations", std::move(rotations));
  const bool truncated = start + limit < total;
  if (truncated) out.set("NextMarker", std::to_string(start + limit));
  out.set("Truncated", truncated);
  return out;
}


void KeyStore::tag_resource(const std::string& account, const std::string& region, const Value& input) {
  check_tags(input.get("Tags"));
  std::lock_guard lock(mutex_);
  Key& key = changeable_key(account, region, input);
  if (key.doc.str("Manager") == "AWS") throw AwsError("TagException", "You cannot tag an AWS managed key.", 400);
  Key next = key;
  Value tags = key.doc.get("Tags") ? *key.doc.get("Tags") : Value::list();
  if (const Value* given = input.get("Tags"))
    for (const Value& tag : given->as_list()) {
      bool replaced = false;
      for (Value& existing : tags.as_list())
        if (existing.str("TagKey") == tag.str("TagKey")) existing = tag, replaced = true;
      if (!replaced) tags.push(tag);
    }
  if (tags.size() > static_cast<size_t>(kMaxTags)) throw AwsError("TagException", "Too many tags", 400);
  next.doc.set("Tags", std::move(tags));
  commit(key, std::move(next));
}

void KeyStore::untag_resource(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Key& key = changeable_key(account, region, input);
  Key next = key;
  Value kept = Value::list();
  if (const Value* tags = key.doc.get("Tags"))
    for (const Value& tag : tags->as_list()) {
      bool removed = false;
      if (const Value* keys = input.get("TagKeys"))
        for (const Value& k : keys->as_list()) removed = removed || (k.is_string() && k.as_string() == tag.str("TagKey"));
      if (!removed) kept.push(tag);
    }
  next.doc.set("Tags", std::move(kept));
  commit(key, std::move(next));
}

Value KeyStore::list_resource_tags(const std::string& account, const std::string& region, const Value& input) {
  check_limit(input);
  std::lock_guard lock(mutex_);
  Key& key = resolve(account, region, input.str("KeyId"), /*allow_alias=*/false);
  const size_t limit = static_cast<size_t>(input.i64("Limit", 50));
  const size_t start = offset_marker(input);
  Value tags = Value::list();
  const Value* all = key.doc.get("Tags");
  const size_t total = all ? all->size() : 0;
  for (size_t i = start; i < total && tags.size() < limit; ++i) tags.push(all->as_list()[i]);
  Value out = Value::map();
  out.set("Tags", std::move(tags));
  const bool truncated = start + limit < total;
  if (truncated) out.set("NextMarker", std::to_string(start + limit));
  out.set("Truncated", truncated);
  return out;
}

std::string KeyStore::managed_key(const std::string& account, const std::string& region, std::string_view service) {
  std::lock_guard lock(mutex_);
  return managed_locked(account, region, service).arn;
}

std::optional<std::string> KeyStore::find_key(const std::string& account, const std::string& region, std::string_view id) {
  std::lock_guard lock(mutex_);
  Key* key = find_locked(account, region, id);
  if (!key) return std::nullopt;
  return key->arn;
}

std::optional<std::string> KeyStore::key_state(std::string_view arn) {
  auto parts = split_arn(arn);
  if (!parts || parts->resource.substr(0, 4) != "key/") return std::nullopt;
  std::lock_guard lock(mutex_);
  Key* key = key_by_id(std::string(parts->account), std::string(parts->region), std::string(parts->resource.substr(4)));
  if (!key) return std::nullopt;
  return std::string(key->doc.str("State"));
}

KeyStore::Key& KeyStore::usable_by_arn(std::string_view key_arn) {
  auto parts = split_arn(key_arn);
  Key* key = parts && parts->resource.substr(0, 4) == "key/"
                 ? key_by_id(std::string(parts->account), std::string(parts->region), std::string(parts->resource.substr(4)))
                 : nullptr;
  if (!key) throw AwsError("NotFoundException", "Key '" + std::string(key_arn) + "' does not exist", 400);
  require_enabled(*key);
  return *key;
}

std::string KeyStore::wrap_data_key(std::string_view key_arn, std::string_view plaintext, const Value& context) {
  std::lock_guard lock(mutex_);
  return seal_blob(usable_by_arn(key_arn), plaintext, &context);
}

std::optional<std::string> KeyStore::unwrap_data_key(std::string_view key_arn, std::string_view blob, const Value& context) {
  std::lock_guard lock(mutex_);
  Key& key = usable_by_arn(key_arn);
  if (blob.size() < 1 + kIdSize + 4 || blob[0] != kBlobVersion || blob.substr(1, kIdSize) != key.id) return std::nullopt;
  const size_t index = blob_material_index(blob);
  const Value* all = key.doc.get("Materials");
  if (!all || !all->is_list() || index >= all->size()) return std::nullopt;
  return gcm_open(material(key, index), blob.substr(1 + kIdSize + 4), context_aad(&context));
}

}  // namespace vigil::kms
