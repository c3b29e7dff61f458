// KMS over json 1.1 (X-Amz-Target: TrentService.*): thin handlers over the KeyStore model.
// Operations not handled here (asymmetric and HMAC keys, grants, imported material, custom
// key stores, multi-Region keys) answer
// UnknownOperationException and are listed in docs/coverage.md.
#pragma once

#include "server/service.h"
#include "services/kms/keys.h"

namespace vigil::kms {

class KmsService : public server::Service {
 public:
  explicit KmsService(KeyStore& keys);
  // CloudTrail never records plaintexts or ciphertexts, only which key and context.
  const Value& audit_parameters(std::string_view operation, const Value& input, Value& scratch) const override;
  // responseElements null for the cryptographic operations (their outputs are key material).
  bool audit_response(std::string_view operation) const override;
  void reset() override { keys_.reset(); }

 private:
  KeyStore& keys_;
};

}  // namespace vigil::kms
