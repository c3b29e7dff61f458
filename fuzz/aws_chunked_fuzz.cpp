// libFuzzer: the aws-chunked decoder (S3 STREAMING-* uploads). Two properties, chosen by the
// first byte:
//   raw     arbitrary bytes decoded unsigned and signed (a fixed key): never a crash, hang or
//           error other than AwsError IncompleteBody / SignatureDoesNotMatch; a decoded
//           payload is never longer than the body it came from; fed in pieces (cut where the
//           input's own bytes say, as a spooled body is read back in blocks) the streaming
//           decoder gives the same payload or the same error as fed whole.
//   framed  the rest is cut into chunks (each led by a length byte) that are framed and
//           signed exactly as the SDKs do (chained chunk signatures, empty final chunk,
//           optional trailers, optionally signed with x-amz-trailer-signature); decoding must
//           give back the concatenated chunks and the trailer. Random bytes alone would never
//           get past the first chunk signature.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The body fed to AwsChunkedDecoder in pieces whose sizes cycle through `cuts` (each 1-256):
// the payload, or the error code.
std::string decode_in_pieces(std::string_view body, const std::optional<s3::ChunkSigner>& signer, std::string_view cuts, std::string& error) {
  s3::AwsChunkedDecoder decoder(signer);
  std::string out;
  try {
    size_t pos = 0, i = 0;
    while (pos < body.size()) {
      size_t n = cuts.empty() ? body.size() : 1 + static_cast<unsigned char>(cuts[i++ % cuts.size()]);
      decoder.feed(body.substr(pos, n), [&](std::string_view d) { out.append(d); });
      pos += std::min(n, body.size() - pos);
    }
    decoder.finish();
    if (decoder.payload_size() != out.size()) std::abort();
  } catch (const AwsError& e) {
    error = e.code();
  }
  return out;
}

void expect_known_error(const AwsError& e) {
  if (e.code() != "IncompleteBody" && e.code() != "SignatureDoesNotMatch" && e.code() != "MalformedTrailerError") {
    std::fprintf(stderr, "unexpected error %s\n", e.code().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Raw inputs are also decoded as signed-trailer bodies (their trailers then need a signature).
  const s3::ChunkSigner signer{kKey, kDate, kScope, kSeed, (data[0] & 3) == 2};
  if ((data[0] & 1) == 0) {
    // The cut sizes come from the input's tail, so the fuzzer explores them with the bytes.
    std::string_view cuts = input.substr(input.size() - std::min<size_t>(input.size(), 8));
    for (bool signed_mode : {false, true}) {
      std::optional<s3::ChunkSigner> mode = signed_mode ? std::optional<s3::ChunkSigner>(signer) : std::nullopt;
      std::string whole, whole_error;
      try {
        whole = s3::decode_aws_chunked(input, mode);
        if (whole.size() > input.size()) std::abort();
      } catch (const AwsError& e) {
        expect_known_error(e);
        whole_error = e.code();
      }
      std::string pieces_error;
      std::string pieces = decode_in_pieces(input, mode, cuts, pieces_error);
      if (pieces_error != whole_error) std::abort();
      if (whole_error.empty() && pieces != whole) std::abort();
    }
    return 0;
  }
  // framed: build a valid signed body from the input and expect the payload back.
  const bool uppercase_hex = data[0] & 2, trailer = data[0] & 4, signed_trailer = trailer && (data[0] & 8);
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
  std::string final_signature = auth::chunk_signature(kKey, kDate, kScope, previous, "");
  body += "0;chunk-signature=" + final_signature + "\r\n";
  // The trailer's value comes from the input too (base64-like bytes), so that its signature
  // covers varying text.
  std::string checksum = "AAAAAA==";
  for (size_t i = 0; i < std::min<size_t>(input.size(), 8); ++i) checksum[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[static_cast<unsigned char>(input[i]) % 64];
  if (trailer) body += "x-amz-checksum-crc32:" + checksum + "\r\n";
  if (signed_trailer)
    body += "x-amz-trailer-signature:" + auth::trailer_signature(kKey, kDate, kScope, final_signature, "x-amz-checksum-crc32:" + checksum + "\n") + "\r\n";
  body += "\r\n";
  s3::ChunkSigner trailer_signer = signer;
  trailer_signer.signed_trailer = signed_trailer;
  std::string out;
  std::vector<s3::Trailer> trailers;
  try {
    out = s3::decode_aws_chunked(body, trailer_signer, &trailers);
  } catch (const AwsError& e) {
    std::fprintf(stderr, "valid framing rejected: %s\n", e.code().c_str());
    std::abort();
  }
  if (out != expected) std::abort();
  if (trailer != (trailers.size() == 1) || (trailer && trailers[0].second != checksum)) std::abort();
  std::string split_error;
  if (decode_in_pieces(body, trailer_signer, input.substr(0, 8), split_error) != expected || !split_error.empty()) std::abort();
  if (signed_trailer) {
    // The same body with another checksum under the original signature must be refused.
    std::string forged = body;
    size_t at = forged.rfind("x-amz-checksum-crc32:") + 21;  // the trailer (the payload may hold the text too)
    forged[at] = forged[at] == 'A' ? 'B' : 'A';
    try {
      s3::decode_aws_chunked(forged, trailer_signer);
      std::abort();
    } catch (const AwsError& e) {
      if (e.code() != "SignatureDoesNotMatch") std::abort();
    }
  }
  // Unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER) bodies frame the same way without signatures.
  try {
    if (s3::decode_aws_chunked(body, std::nullopt) != expected) std::abort();
  } catch (const AwsError&) {
    std::abort();
  }
  return 0;
}
