// aws-chunked payloads (Content-Encoding: aws-chunked), as S3 clients send them:
//   hex-size[;chunk-signature=<64 hex>]\r\n <bytes> \r\n ... 0[;chunk-signature=…]\r\n
//   [trailer-name:value\r\n ...] [x-amz-trailer-signature:…\r\n] \r\n
// With a signer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*) every chunk's signature is checked,
// chained from the request's seed signature; a missing or wrong one answers
// SignatureDoesNotMatch (403). Malformed framing answers IncompleteBody (400). What follows the
// final chunk (trailers: x-amz-checksum-*) is not interpreted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"

namespace vigil::s3 {

struct ChunkSigner {
  std::string_view signing_key, amz_date, credential_scope, seed_signature;
};

// Decodes a body that arrives in pieces of any size (a spooled upload read back in bounded
// blocks): feed() the pieces in order, then finish(). Payload bytes go to the sink as they are
// framed, before their chunk's signature is known to be right: the caller keeps them
// provisional (an uncommitted DurableFile) until finish() returned. Memory: the chunk header
// being read (at most kMaxHeaderBytes), the previous signature and one SHA-256 context, whatever
// the chunk or body size.
class AwsChunkedDecoder {
 public:
  using Sink = std::function<void(std::string_view payload)>;
  // A chunk header line longer than this is not one (IncompleteBody): the hex size, one
  // chunk-signature extension and room for others.
  static constexpr size_t kMaxHeaderBytes = 4096;

  explicit AwsChunkedDecoder(const std::optional<ChunkSigner>& signer);
  // Throws AwsError (IncompleteBody, SignatureDoesNotMatch) on the first bad byte.
  void feed(std::string_view bytes, const Sink& sink);
  // After the last byte: IncompleteBody unless the final (empty) chunk was complete.
  void finish() const;
  bool done() const { return state_ == State::Done; }
  uint64_t payload_size() const { return payload_size_; }

 private:
  enum class State { Header, Data, DataEnd, Done };
  void end_header();
  void end_chunk();

  bool signed_ = false;
  std::string signing_key_, amz_date_, credential_scope_, previous_;
  State state_ = State::Header;
  std::string header_;          // the chunk header line read so far
  std::string given_signature_; // the current chunk's chunk-signature value
  uint64_t remaining_ = 0;      // bytes of the current chunk's data still to come
  bool final_chunk_ = false;
  size_t crlf_seen_ = 0;        // of the "\r\n" after a chunk's data
  uint64_t payload_size_ = 0;
  std::unique_ptr<auth::Sha256> chunk_hash_;
};

// The whole payload of a body held in memory (AwsChunkedDecoder over one piece).
std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer);

}  // namespace vigil::s3
