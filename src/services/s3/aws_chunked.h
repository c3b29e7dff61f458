// aws-chunked payloads (Content-Encoding: aws-chunked), as S3 clients send them:
//   hex-size[;chunk-signature=<64 hex>]\r\n <bytes> \r\n ... 0[;chunk-signature=…]\r\n
//   [trailer-name:value\r\n ...] [x-amz-trailer-signature:…\r\n] \r\n
// With a signer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*) every chunk's signature is checked,
// chained from the request's seed signature; a missing or wrong one answers
// SignatureDoesNotMatch (403). Malformed framing answers IncompleteBody (400). The trailing
// headers after the final chunk (S3: x-amz-checksum-<algorithm>) are parsed and kept for the
// caller, who checks them against the payload; for a signed-trailer body
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER) their x-amz-trailer-signature is verified,
// chained from the final chunk's signature. A malformed trailer answers MalformedTrailerError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

namespace vigil::s3 {

struct ChunkSigner {
  std::string_view signing_key, amz_date, credential_scope, seed_signature;
  bool signed_trailer = false;  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: trailers carry a signature
};

// A trailing header as sent: name lowercase, value trimmed.
using Trailer = std::pair<std::string, std::string>;

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
  // All trailing headers together (S3 sends one checksum and a signature): more is malformed.
  static constexpr size_t kMaxTrailerBytes = 4096;

  explicit AwsChunkedDecoder(const std::optional<ChunkSigner>& signer);
  // Throws AwsError (IncompleteBody, SignatureDoesNotMatch) on the first bad byte.
  void feed(std::string_view bytes, const Sink& sink);
  // After the last byte: IncompleteBody unless the final (empty) chunk was complete; a trailer
  // line cut short is MalformedTrailerError, and a signed trailer is verified here if the body
  // ended without the blank line that closes the trailers.
  void finish();
  // The final chunk was read (the payload is complete; trailers may follow).
  bool payload_done() const { return state_ == State::Trailers || state_ == State::Done; }
  // Nothing more can come (the blank line after the trailers was read).
  bool done() const { return state_ == State::Done; }
  uint64_t payload_size() const { return payload_size_; }
  // The trailing headers (without x-amz-trailer-signature), complete after finish().
  const std::vector<Trailer>& trailers() const { return trailers_; }

 private:
  enum class State { Header, Data, DataEnd, Trailers, Done };
  void end_header();
  void end_chunk();
  void trailer_line();
  void end_trailers();

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
  bool signed_trailer_ = false;
  size_t trailer_bytes_ = 0;
  std::vector<Trailer> trailers_;
  std::string trailer_signature_;  // the x-amz-trailer-signature given
  bool trailers_checked_ = false;
};

// The whole payload of a body held in memory (AwsChunkedDecoder over one piece); its trailing
// headers into `trailers` if given.
std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer, std::vector<Trailer>* trailers = nullptr);

}  // namespace vigil::s3
