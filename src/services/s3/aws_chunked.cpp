#include "services/s3/aws_chunked.h"

#include "auth/sigv4.h"
#include "core/aws_error.h"

namespace vigil::s3 {

namespace {

[[noreturn]] void incomplete() {
  throw AwsError("IncompleteBody", "The request body terminated unexpectedly", 400);
}
[[noreturn]] void bad_signature() {
  throw AwsError("SignatureDoesNotMatch",
                 "The request signature we calculated does not match the signature you provided. Check your key and signing method.", 403);
}

}  // namespace

std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer) {
  std::string out;
  std::string previous = signer ? std::string(signer->seed_signature) : std::string();
  size_t pos = 0;
  while (true) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) incomplete();
    std::string_view header = body.substr(pos, eol - pos);
    size_t semi = header.find(';');
    std::string_view hex = header.substr(0, semi);
    if (hex.empty() || hex.size() > 15) incomplete();
    uint64_t size = 0;
    for (char c : hex) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) incomplete();
      size = size * 16 + static_cast<uint64_t>(d);
    }
    pos = eol + 2;
    if (size > body.size() - pos) incomplete();
    std::string_view data = body.substr(pos, size);
    if (signer) {
      std::string_view ext = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
      constexpr std::string_view kSig = "chunk-signature=";
      if (ext.substr(0, kSig.size()) != kSig) bad_signature();
      std::string_view given = ext.substr(kSig.size());
      std::string expected = auth::chunk_signature(signer->signing_key, signer->amz_date, signer->credential_scope, previous, data);
      if (!auth::signatures_equal(expected, given)) bad_signature();
      previous = std::move(expected);
    }
    out.append(data);
    pos += size;
    if (size == 0) break;  // trailers (checksums) may follow; the body is complete
    if (body.substr(pos, 2) != "\r\n") incomplete();
    pos += 2;
  }
  return out;
}

}  // namespace vigil::s3
