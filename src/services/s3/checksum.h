// S3's additional checksums ("flexible checksums"): the algorithms Vigil computes, a streaming
// hasher over any of them, and what an object, part or upload record keeps of one. Plain C++;
// the wire rules (which header, which error) are s3_service.cpp's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::s3 {

// The algorithms of the model's ChecksumAlgorithm that Vigil computes. SHA512, MD5 and the
// XXHASH family (added to S3 in 2025) are answered NotImplemented by the service.
enum class ChecksumAlgorithm { None, CRC32, CRC32C, CRC64NVME, SHA1, SHA256 };

inline constexpr ChecksumAlgorithm kChecksumAlgorithms[] = {ChecksumAlgorithm::CRC32, ChecksumAlgorithm::CRC32C, ChecksumAlgorithm::CRC64NVME,
                                                            ChecksumAlgorithm::SHA1, ChecksumAlgorithm::SHA256};

// "CRC32", "CRC64NVME", ... (the model's enum value; empty for None).
std::string_view checksum_name(ChecksumAlgorithm a);
// By the model's name, case-insensitively ("crc32" in x-amz-trailer names); nullopt otherwise.
std::optional<ChecksumAlgorithm> checksum_algorithm(std::string_view name);
// The digest's size in bytes (4, 8, 20, 32).
size_t checksum_size(ChecksumAlgorithm a);
// CRCs combine into a checksum of a whole multipart object; SHAs only into a composite one.
inline bool is_crc(ChecksumAlgorithm a) {
  return a == ChecksumAlgorithm::CRC32 || a == ChecksumAlgorithm::CRC32C || a == ChecksumAlgorithm::CRC64NVME;
}

// An incremental digest of one algorithm over bytes given in pieces: CRC32 by zlib, SHA by
// OpenSSL, CRC32C and CRC64NVME by core/crc.h. Memory: one digest context.
class Checksummer {
 public:
  explicit Checksummer(ChecksumAlgorithm a);
  ~Checksummer();
  Checksummer(const Checksummer&) = delete;
  Checksummer& operator=(const Checksummer&) = delete;
  ChecksumAlgorithm algorithm() const { return algorithm_; }
  void update(std::string_view data);
  // The digest as S3 puts it in x-amz-checksum-* (big-endian for the CRCs), raw bytes. Once.
  std::string digest();

 private:
  ChecksumAlgorithm algorithm_;
  uint64_t crc_ = 0;
  void* md_ = nullptr;  // EVP_MD_CTX for the SHAs (OpenSSL stays out of this header)
};

std::string compute_checksum(ChecksumAlgorithm a, std::string_view data);  // raw digest

// What a record keeps: the algorithm's name, the base64 value as S3 answers it ("<b64>-<N>" for
// a composite multipart checksum) and the type (FULL_OBJECT or COMPOSITE; empty on parts).
// All empty: no checksum (records written before checksums, or parts uploaded without one).
struct StoredChecksum {
  std::string algorithm, value, type;
  bool empty() const { return algorithm.empty(); }
};

inline constexpr std::string_view kFullObject = "FULL_OBJECT";
inline constexpr std::string_view kComposite = "COMPOSITE";

// A multipart upload's composite checksum: the algorithm over the concatenated raw part
// digests, base64, then "-<number of parts>". Parts are given as base64 values.
std::string composite_checksum(ChecksumAlgorithm a, const std::vector<std::string>& part_values_base64);

}  // namespace vigil::s3
