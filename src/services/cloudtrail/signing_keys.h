// The per-account-and-region RSA key pairs that sign CloudTrail digest files, and the
// public keys ListPublicKeys returns. State, in the store's Meta keyspace:
//
//   ct:k: account \0 region \0 validity_start(8, big endian ms) -> key JSON
//        {"Pem": private key PEM, "Start": s, "End": s, "Der": b64 PKCS#1 public key, "Fingerprint": hex MD5}
//
// A key is created on first use and signs for kKeyLifetime; then a new one takes over. Retired
// keys stay (their public half must stay listable for validating old digests).
// TODO: the private key PEM is stored in clear; wrap it with a KMS key once KMS is served.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace vigil::cloudtrail {

struct SigningKey {
  std::string private_pem;
  std::string public_der;   // PKCS#1 RSAPublicKey DER
  std::string fingerprint;  // lowercase hex MD5 of public_der
  double start = 0, end = 0;
};

class SigningKeys {
 public:
  static constexpr double kKeyLifetime = 86400;  // daily rotation

  SigningKeys(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // The key that signs at `now` (created, stored durably, if none is valid then).
  SigningKey current(const std::string& account, const std::string& region);
  // Every key whose validity overlaps [start, end], oldest first.
  std::vector<SigningKey> overlapping(const std::string& account, const std::string& region, double start, double end) const;

  // SHA256withRSA (PKCS#1 v1.5) signature of `data`, raw bytes.
  static std::string sign(const SigningKey& key, std::string_view data);
  // Verifies with the PKCS#1 public key (for tests and the offline validator).
  static bool verify(std::string_view public_der, std::string_view data, std::string_view signature);
  static SigningKey generate(double start, double end);

 private:
  std::vector<SigningKey> all(const std::string& account, const std::string& region) const;
  store::Store& store_;
  const Clock& clock_;
  std::mutex mutex_;
};

std::string sha256_hex(std::string_view data);

}  // namespace vigil::cloudtrail
