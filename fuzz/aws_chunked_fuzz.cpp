// libFuzzer: the aws-chunked decoder (S3 STREAMING-* uploads). Two properties, chosen by the
// first byte:
//   raw     arbitrary bytes decoded unsigned and signed (a fixed key): never a crash, hang or
//           error other than AwsError IncompleteBody / SignatureDoesNotMatch; a decoded
//           payload is never longer than the body it came from.
//   framed  the rest is cut into chunks (each led by a length byte) that are framed and
//           signed exactly as the SDKs do (chained chunk signatures, empty final chunk,
//           optional trailers); decoding must give back the concatenated chunks. Random
//           bytes alone would never get past the first chunk signature.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "services/s3/aws_chunked.h"

namespace {

using namespace vigil;

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";  // 32 raw bytes, like a derived signing key
constexpr std::string_view kDate = "20260101T000000Z";
constexpr std::string_view kScope = "20260101/us-east-1/s3/aws4_request";
constexpr std::string_view kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

std::string hex_size(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

void expect_known_error(const AwsError& e) {
  if (e.code() != "IncompleteBody" && e.code() != "SignatureDoesNotMatch") {
    std::fprintf(stderr, "unexpected error %s\n", e.code().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const s3::ChunkSigner signer{kKey, kDate, kScope, kSeed};
  if ((data[0] & 1) == 0) {
    for (bool signed_mode : {false, true}) {
      try {
        std::string out = s3::decode_aws_chunked(input, signed_mode ? std::optional<s3::ChunkSigner>(signer) : std::nullopt);
        if (out.size() > input.size()) std::abort();
      } catch (const AwsError& e) {
        expect_known_error(e);
      }
    }
    return 0;
  }
  // framed: build a valid signed body from the input and expect the payload back.
  const bool uppercase_hex = data[0] & 2, trailer = data[0] & 4;
  std::string body, expected, previous(kSeed);
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = static_cast<unsigned char>(input[pos++]);
    std::string_view chunk = input.substr(pos, n);
    pos += chunk.size();
    if (chunk.empty()) continue;  // an empty chunk would end the body early
    std::string sig = auth::chunk_signature(kKey, kDate, kScope, previous, chunk);
    std::string size_text = hex_size(chunk.size());
    if (uppercase_hex)
      for (char& c : size_text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    body += size_text + ";chunk-signature=" + sig + "\r\n";
    body.append(chunk);
    body += "\r\n";
    expected.append(chunk);
    previous = std::move(sig);
  }
  body += "0;chunk-signature=" + auth::chunk_signature(kKey, kDate, kScope, previous, "") + "\r\n";
  if (trailer) body += "x-amz-checksum-crc32:AAAAAA==\r\n";
  body += "\r\n";
  std::string out;
  try {
    out = s3::decode_aws_chunked(body, signer);
  } catch (const AwsError& e) {
    std::fprintf(stderr, "valid framing rejected: %s\n", e.code().c_str());
    std::abort();
  }
  if (out != expected) std::abort();
  // Unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER) bodies frame the same way without signatures.
  try {
    if (s3::decode_aws_chunked(body, std::nullopt) != expected) std::abort();
  } catch (const AwsError&) {
    std::abort();
  }
  return 0;
}
