// KMS keys and aliases, without HTTP: symmetric encryption keys (SYMMETRIC_DEFAULT, AES-256-GCM)
// that encrypt up to 4 KB and generate data keys, as other services' envelope encryption
// needs them (S3 SSE-KMS, CloudTrail's KmsKeyId). State, in the store's Meta keyspace, every
// write synced before the call answers:
//
//   kms:k: account \0 region \0 key id   -> key JSON (description, state, dates, tags, policy,
//                                           rotation settings and history, "Materials": its 256-bit
//                                           keys, oldest first, each sealed by the master key)
//   kms:a: account \0 region \0 alias    -> {"Target": key id, "Created": t, "Updated": t}
//
// Key material never leaves the server in the clear and is never stored unsealed: it is sealed
// (AES-256-GCM) by the server's master key (s3/sse.h, <data-dir>/s3/.master-key). Rotation
// (EnableKeyRotation's period, checked when the key is used; RotateKeyOnDemand) adds material
// and keeps the old, so older ciphertexts still decrypt. A ciphertext blob names its key and
// material, so Decrypt needs no KeyId:
//   version (1) | key id (36) | material index (4, big-endian) | nonce (12) | tag (16) | ciphertext
// with the encryption context (sorted pairs) as additional authenticated data.
//
// AWS managed keys (alias aws/<service>, KeyManager AWS) exist once a service uses them
// (managed_key): their ids are derived from the master key, so the same account and region
// always get the same key. Keys scheduled for deletion are deleted when their date passes
// (looked up lazily: a key past its date is gone). Key policies are kept and returned
// (GetKeyPolicy) but not evaluated; access to keys is the account's.
//
// Costs: every operation holds one mutex over in-memory maps (keys and aliases of all
// accounts: small), a write is one synced store write; Encrypt/Decrypt unseal the key's
// material once per key and keep it in memory.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/value.h"
#include "services/s3/sse.h"
#include "store/store.h"

namespace vigil::kms {

class KeyStore {
 public:
  KeyStore(store::Store& store, const Clock& clock, const s3::MasterKey& master);

  void load();   // startup: keys and aliases from the store
  void reset();  // after the store was cleared

  // The operations, in the caller's account and region, with AWS's validation and errors.
  Value create_key(const std::string& account, const std::string& region, const Value& input);
  Value describe_key(const std::string& account, const std::string& region, const Value& input);
  Value list_keys(const std::string& account, const std::string& region, const Value& input) const;
  void update_key_description(const std::string& account, const std::string& region, const Value& input);
  void enable_key(const std::string& account, const std::string& region, const Value& input);
  void disable_key(const std::string& account, const std::string& region, const Value& input);
  Value schedule_key_deletion(const std::string& account, const std::string& region, const Value& input);
  Value cancel_key_deletion(const std::string& account, const std::string& region, const Value& input);
  void create_alias(const std::string& account, const std::string& region, const Value& input);
  void update_alias(const std::string& account, const std::string& region, const Value& input);
  void delete_alias(const std::string& account, const std::string& region, const Value& input);
  Value list_aliases(const std::string& account, const std::string& region, const Value& input);
  Value encrypt(const std::string& account, const std::string& region, const Value& input);
  Value decrypt(const std::string& account, const std::string& region, const Value& input);
  Value re_encrypt(const std::string& account, const std::string& region, const Value& input);
  // GenerateDataKey, or GenerateDataKeyWithoutPlaintext when !with_plaintext.
  Value generate_data_key(const std::string& account, const std::string& region, const Value& input, bool with_plaintext);
  Value generate_random(const Value& input) const;
  Value list_key_policies(const std::string& account, const std::string& region, const Value& input);
  Value get_key_policy(const std::string& account, const std::string& region, const Value& input);
  Value get_key_rotation_status(const std::string& account, const std::string& region, const Value& input);
  void put_key_policy(const std::string& account, const std::string& region, const Value& input);
  // EnableKeyRotation (enable) / DisableKeyRotation.
  void set_key_rotation(const std::string& account, const std::string& region, const Value& input, bool enable);
  Value rotate_key_on_demand(const std::string& account, const std::string& region, const Value& input);
  Value list_key_rotations(const std::string& account, const std::string& region, const Value& input);
  void tag_resource(const std::string& account, const std::string& region, const Value& input);
  void untag_resource(const std::string& account, const std::string& region, const Value& input);
  Value list_resource_tags(const std::string& account, const std::string& region, const Value& input);

  // For other services. The ARN of the account's AWS managed key for `service` ("s3") in the
  // region (alias aws/<service>), created on first use.
  std::string managed_key(const std::string& account, const std::string& region, std::string_view service);
  // The ARN of the key a service was given (key id, key ARN, alias name or alias ARN), if it
  // exists in the account and region (aws/<service> aliases created on use), whatever its
  // state; nullopt otherwise.
  std::optional<std::string> find_key(const std::string& account, const std::string& region, std::string_view id);
  // "Enabled", "Disabled" or "PendingDeletion" of a key by ARN; nullopt: no such key (deleted).
  std::optional<std::string> key_state(std::string_view key_arn);
  // Envelope encryption for other services (S3 SSE-KMS object data keys): `plaintext` sealed
  // by the key's current material with `context` as authenticated data, as Encrypt does.
  // Throws KMS's NotFoundException / DisabledException / KMSInvalidStateException.
  std::string wrap_data_key(std::string_view key_arn, std::string_view plaintext, const Value& context);
  // The inverse, by the key that sealed it (named by the blob); the same errors while the key
  // is not usable, nullopt if the blob or context is not one wrap_data_key made with this key.
  std::optional<std::string> unwrap_data_key(std::string_view key_arn, std::string_view blob, const Value& context);

 private:
  struct Key {
    std::string account, region, id, arn;
    Value doc;                             // the stored JSON
    std::vector<std::optional<s3::DataKey>> materials;  // by index, unsealed on first use
  };
  struct Alias {
    std::string account, region, name;     // name: "alias/..."
    Value doc;                             // {"Target","Created","Updated"}
  };

  // A key named as KMS takes it (key id, key ARN, alias name, alias ARN); throws
  // NotFoundException as AWS words it. `allow_alias` false: a key id or ARN only.
  Key& resolve(const std::string& account, const std::string& region, std::string_view id, bool allow_alias = true);
  Key* find_locked(const std::string& account, const std::string& region, std::string_view id);
  Key* key_by_id(const std::string& account, const std::string& region, const std::string& key_id);
  // The usable (Enabled) key of an ARN, for wrap/unwrap_data_key; throws KMS's errors.
  Key& usable_by_arn(std::string_view key_arn);
  // The key named by input's KeyId (id or ARN) for a change that AWS refuses while the key is
  // pending deletion (KMSInvalidStateException).
  Key& changeable_key(const std::string& account, const std::string& region, const Value& input);
  // AccessDeniedException for an AWS managed key: its state and description are AWS's.
  void refuse_aws_managed(const Key& key) const;
  // Throws DisabledException / KMSInvalidStateException unless the key is Enabled.
  void require_enabled(const Key& key) const;
  const s3::DataKey& material(Key& key, size_t index);
  // The index of the material Encrypt uses now, after any automatic rotation that is due.
  size_t current_material(Key& key);
  // Appends new material and a rotation entry ("AUTOMATIC" / "ON_DEMAND") dated `when`.
  void add_material(Key& key, std::string_view type, double when);
  std::string seal_blob(Key& key, std::string_view plaintext, const Value* context);
  Value key_metadata(const Key& key) const;
  Key& create_locked(const std::string& account, const std::string& region, const std::string& id, Value doc);
  void save(const Key& key);
  void save(const Alias& alias);
  // Writes `next` (synced), then makes it `key`: a failed write leaves the key as it was.
  void commit(Key& key, Key next);
  // Update/Enable/DisableKey: one member of a customer managed key's document.
  void set_customer_key_member(const std::string& account, const std::string& region, const Value& input, const char* member, std::string value);
  Key& managed_locked(const std::string& account, const std::string& region, std::string_view service);

  store::Store& store_;
  const Clock& clock_;
  const s3::MasterKey& master_;
  mutable std::mutex mutex_;
  std::map<std::string, Key> keys_;       // by account \0 region \0 key id
  std::map<std::string, Alias> aliases_;  // by account \0 region \0 alias name
};

}  // namespace vigil::kms
