// aws-chunked payloads (Content-Encoding: aws-chunked), as S3 clients send them:
//   hex-size[;chunk-signature=<64 hex>]\r\n <bytes> \r\n ... 0[;chunk-signature=…]\r\n
//   [trailer-name:value\r\n ...] [x-amz-trailer-signature:…\r\n] \r\n
// decode_aws_chunked() returns the payload. With a signer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*)
// every chunk's signature is checked, chained from the request's seed signature; a missing or
// wrong one answers SignatureDoesNotMatch (403). Malformed framing answers IncompleteBody (400).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vigil::s3 {

struct ChunkSigner {
  std::string_view signing_key, amz_date, credential_scope, seed_signature;
};

std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer);

}  // namespace vigil::s3
