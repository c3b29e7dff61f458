#include "services/kms/kms_service.h"

namespace vigil::kms {

KmsService::KmsService(KeyStore& keys) : Service(*protocol::embedded_model("kms")), keys_(keys) {
  using server::CallContext;
  // Each call names the key it used in its CloudTrail record's resources.
  auto with_key = [](CallContext& ctx, Value out) {
    for (const char* member : {"KeyId", "Arn"}) {
      const Value* holder = out.get("KeyMetadata") ? out.get("KeyMetadata") : &out;
      std::string_view arn = holder->str(member);
      if (arn.substr(0, 4) == "arn:") {
        ctx.resources.emplace_back("AWS::KMS::Key", std::string(arn));
        break;
      }
    }
    return out;
  };
  // The handlers capture the KeyStore itself, not `this` through a nested lambda (GCC 12 gave
  // UBSan's vptr check a `this` it rejected there).
  KeyStore* store = &keys_;
  auto op = [this, store, with_key](const char* name, Value (KeyStore::*method)(const std::string&, const std::string&, const Value&)) {
    on(name, [store, with_key, method](CallContext& ctx, const Value& in) { return with_key(ctx, (store->*method)(ctx.account_id, ctx.region, in)); });
  };
  auto void_op = [this, store](const char* name, void (KeyStore::*method)(const std::string&, const std::string&, const Value&)) {
    on(name, [store, method](CallContext& ctx, const Value& in) {
      (store->*method)(ctx.account_id, ctx.region, in);
      return Value::map();
    });
  };
  op("CreateKey", &KeyStore::create_key);
  op("DescribeKey", &KeyStore::describe_key);
  on("ListKeys", [this](CallContext& ctx, const Value& in) { return keys_.list_keys(ctx.account_id, ctx.region, in); });
  void_op("UpdateKeyDescription", &KeyStore::update_key_description);
  void_op("EnableKey", &KeyStore::enable_key);
  void_op("DisableKey", &KeyStore::disable_key);
  op("ScheduleKeyDeletion", &KeyStore::schedule_key_deletion);
  op("CancelKeyDeletion", &KeyStore::cancel_key_deletion);
  void_op("CreateAlias", &KeyStore::create_alias);
  void_op("UpdateAlias", &KeyStore::update_alias);
  void_op("DeleteAlias", &KeyStore::delete_alias);
  op("ListAliases", &KeyStore::list_aliases);
  op("Encrypt", &KeyStore::encrypt);
  op("Decrypt", &KeyStore::decrypt);
  op("ReEncrypt", &KeyStore::re_encrypt);
  on("GenerateDataKey", [this, with_key](CallContext& ctx, const Value& in) {
    return with_key(ctx, keys_.generate_data_key(ctx.account_id, ctx.region, in, /*with_plaintext=*/true));
  });
  on("GenerateDataKeyWithoutPlaintext", [this, with_key](CallContext& ctx, const Value& in) {
    return with_key(ctx, keys_.generate_data_key(ctx.account_id, ctx.region, in, /*with_plaintext=*/false));
  });
  on("GenerateRandom", [this](CallContext&, const Value& in) { return keys_.generate_random(in); });
  op("GetKeyPolicy", &KeyStore::get_key_policy);
  on("ListKeyPolicies", [this](CallContext& ctx, const Value& in) { return keys_.list_key_policies(ctx.account_id, ctx.region, in); });
  op("GetKeyRotationStatus", &KeyStore::get_key_rotation_status);
  void_op("PutKeyPolicy", &KeyStore::put_key_policy);
  on("EnableKeyRotation", [this](CallContext& ctx, const Value& in) {
    keys_.set_key_rotation(ctx.account_id, ctx.region, in, true);
    return Value::map();
  });
  on("DisableKeyRotation", [this](CallContext& ctx, const Value& in) {
    keys_.set_key_rotation(ctx.account_id, ctx.region, in, false);
    return Value::map();
  });
  op("RotateKeyOnDemand", &KeyStore::rotate_key_on_demand);
  op("ListKeyRotations", &KeyStore::list_key_rotations);
  void_op("TagResource", &KeyStore::tag_resource);
  void_op("UntagResource", &KeyStore::untag_resource);
  op("ListResourceTags", &KeyStore::list_resource_tags);
}

bool KmsService::audit_response(std::string_view operation) const {
  for (std::string_view crypto : {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom"})
    if (operation == crypto) return false;
  return true;
}

const Value& KmsService::audit_parameters(std::string_view, const Value& input, Value& scratch) const {
  if (!input.is_map() || (!input.has("Plaintext") && !input.has("CiphertextBlob"))) return input;
  scratch = Value::map();
  for (const auto& [name, value] : input.as_map())
    if (name != "Plaintext" && name != "CiphertextBlob") scratch.set(name, value);
  return scratch;
}

}  // namespace vigil::kms
