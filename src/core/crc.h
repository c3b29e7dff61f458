// CRC-32C (Castagnoli) and CRC-64/NVME, the CRCs of S3's additional checksums that neither
// zlib nor OpenSSL provides (CRC-32 itself is zlib's crc32()). Table-driven, slicing by 8
// bytes: about 1-2 GB/s per core, so hashing a 5 GB upload as it streams costs seconds, not
// minutes. Both are reflected CRCs with all-ones initial value and final XOR; `crc` is the
// value returned for the bytes before (0 to start), so a body can be hashed piece by piece.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil {

// CRC-32C (iSCSI, polynomial 0x1EDC6F41): crc32c(0, "123456789") == 0xE3069283.
uint32_t crc32c(uint32_t crc, const void* data, size_t n);
// CRC-64/NVME (polynomial 0xAD93D23594C93659): crc64nvme(0, "123456789") == 0xAE8B14860A799888.
uint64_t crc64nvme(uint64_t crc, const void* data, size_t n);

}  // namespace vigil
