#include "services/s3/checksum.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "core/aws_error.h"
#include "core/crc.h"
#include "core/encoding.h"

namespace vigil::s3 {

std::string_view checksum_name(ChecksumAlgorithm a) {
  switch (a) {
    case ChecksumAlgorithm::CRC32: return "CRC32";
    case ChecksumAlgorithm::CRC32C: return "CRC32C";
    case ChecksumAlgorithm::CRC64NVME: return "CRC64NVME";
    case ChecksumAlgorithm::SHA1: return "SHA1";
    case ChecksumAlgorithm::SHA256: return "SHA256";
    case ChecksumAlgorithm::None: break;
  }
  return {};
}

std::optional<ChecksumAlgorithm> checksum_algorithm(std::string_view name) {
  for (ChecksumAlgorithm a : kChecksumAlgorithms) {
    std::string_view n = checksum_name(a);
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) same = n[i] == std::toupper(static_cast<unsigned char>(name[i]));
    if (same) return a;
  }
  return std::nullopt;
}

size_t checksum_size(ChecksumAlgorithm a) {
  switch (a) {
    case ChecksumAlgorithm::CRC32:
    case ChecksumAlgorithm::CRC32C: return 4;
    case ChecksumAlgorithm::CRC64NVME: return 8;
    case ChecksumAlgorithm::SHA1: return 20;
    case ChecksumAlgorithm::SHA256: return 32;
    case ChecksumAlgorithm::None: break;
  }
  return 0;
}

Checksummer::Checksummer(ChecksumAlgorithm a) : algorithm_(a) {
  if (a != ChecksumAlgorithm::SHA1 && a != ChecksumAlgorithm::SHA256) return;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, a == ChecksumAlgorithm::SHA1 ? EVP_sha1() : EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw internal_error("cannot start a checksum");
  }
  md_ = ctx;
}

Checksummer::~Checksummer() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md_)); }

void Checksummer::update(std::string_view data) {
  switch (algorithm_) {
    case ChecksumAlgorithm::CRC32:
      // zlib takes uInt lengths: feed a huge slice in pieces.
      for (size_t at = 0; at < data.size();) {
        size_t n = std::min<size_t>(data.size() - at, 1u << 30);
        crc_ = ::crc32(static_cast<uLong>(crc_), reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uInt>(n));
        at += n;
      }
      break;
    case ChecksumAlgorithm::CRC32C: crc_ = crc32c(static_cast<uint32_t>(crc_), data.data(), data.size()); break;
    case ChecksumAlgorithm::CRC64NVME: crc_ = crc64nvme(crc_, data.data(), data.size()); break;
    case ChecksumAlgorithm::SHA1:
    case ChecksumAlgorithm::SHA256: EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(md_), data.data(), data.size()); break;
    case ChecksumAlgorithm::None: break;
  }
}

std::string Checksummer::digest() {
  if (md_) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md_), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
  }
  size_t n = checksum_size(algorithm_);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((crc_ >> (8 * (n - 1 - i))) & 0xff);
  return out;
}

std::string compute_checksum(ChecksumAlgorithm a, std::string_view data) {
  Checksummer c(a);
  c.update(data);
  return c.digest();
}

std::string composite_checksum(ChecksumAlgorithm a, const std::vector<std::string>& part_values_base64) {
  Checksummer c(a);
  for (const auto& v : part_values_base64)
    if (auto raw = base64_decode(v)) c.update(*raw);
  return base64_encode(c.digest()) + "-" + std::to_string(part_values_base64.size());
}

}  // namespace vigil::s3
