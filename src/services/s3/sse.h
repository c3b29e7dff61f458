// SSE-S3: S3 object bytes encrypted at rest. Every object or part file gets its own random
// data key (AES-256) and initial counter block; the file holds the body under AES-256-CTR, so
// byte N of the plaintext is byte N of the file and any range decrypts on its own (the counter
// for offset N is IV + N/16, then N%16 keystream bytes are skipped), no header to skip and no
// need to read from the start. The data key and IV are sealed (AES-256-GCM, random 96-bit
// nonce, authenticated) under the server's master key, 32 random bytes in
// <data-dir>/s3/.master-key (created 0600 on first start), and the sealed blob is kept in the
// object's (or part's) metadata record, committed with it. A record without one is a file
// written before encryption existed: read as plaintext.
//
// What this protects: the object files on a disk or in a backup that lacks the master key (or
// the metadata store). Whoever can read the data directory including .master-key can decrypt
// everything, as the server itself does: like S3's own SSE-S3, this is encryption at rest, not
// access control. Integrity: the sealed key is authenticated (GCM: a corrupted or foreign
// record fails to unseal instead of decrypting to garbage); the body is CTR, which is
// malleable (a flipped ciphertext bit flips the same plaintext bit). The stored MD5/ETag is
// over the plaintext, as S3 defines it, but is not re-checked on every read (that would need
// the whole object read per ranged GET).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::s3 {

struct DataKey {
  std::array<unsigned char, 32> key{};
  std::array<unsigned char, 16> iv{};  // the initial counter block

  // XORs the keystream that starts at byte `offset` of the file into data[0, n): encrypts
  // plaintext and decrypts ciphertext alike, in place. Cost: one cipher context per call plus
  // AES over n bytes (AES-NI: a few GB/s), no allocation proportional to n.
  void apply(uint64_t offset, char* data, size_t n) const;
};

// The server's master key: seals and unseals data keys.
class MasterKey {
 public:
  // Reads the key file, or creates it (0600, 32 random bytes) if it does not exist.
  static MasterKey load_or_create(const std::string& path);
  explicit MasterKey(const std::array<unsigned char, 32>& key) : key_(key) {}

  static DataKey new_data_key();  // random key and IV
  // version byte (1) | nonce (12) | GCM ciphertext of key || iv (48) | tag (16): 77 bytes.
  std::string seal(const DataKey& key) const;
  // Throws (InternalError) if the blob was not sealed by this master key or was altered.
  DataKey unseal(std::string_view sealed) const;
  // A value derived from the master key for `label` (HMAC-SHA256): stable for as long as the
  // key file is, different per label, and telling nothing about the key (the id of an
  // account's AWS managed KMS key, object_store.h).
  std::array<unsigned char, 32> derive(std::string_view label) const;
  // derive(label) as a v4-shaped UUID (lower-case, 36 characters), as KMS key ids are.
  std::string derive_uuid(std::string_view label) const;

 private:
  std::array<unsigned char, 32> key_;
};

}  // namespace vigil::s3
