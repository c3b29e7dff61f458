#include "services/s3/aws_chunked.h"

#include <algorithm>

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

constexpr std::string_view kSignatureExtension = "chunk-signature=";

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(const std::optional<ChunkSigner>& signer) {
  if (!signer) return;
  signed_ = true;
  signing_key_ = std::string(signer->signing_key);
  amz_date_ = std::string(signer->amz_date);
  credential_scope_ = std::string(signer->credential_scope);
  previous_ = std::string(signer->seed_signature);
  chunk_hash_ = std::make_unique<auth::Sha256>();
}

void AwsChunkedDecoder::feed(std::string_view bytes, const Sink& sink) {
  while (!bytes.empty()) {
    switch (state_) {
      case State::Header: {
        // The line ends at the first "\r\n" (a lone '\n' belongs to the line), which may be
        // split between two pieces.
        size_t nl = bytes.find('\n');
        size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
        if (header_.size() + take > kMaxHeaderBytes) incomplete();
        header_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        if (header_.size() >= 2 && header_.compare(header_.size() - 2, 2, "\r\n") == 0) end_header();
        break;
      }
      case State::Data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        std::string_view data = bytes.substr(0, take);
        if (signed_) chunk_hash_->update(data);
        payload_size_ += take;
        remaining_ -= take;
        bytes.remove_prefix(take);
        if (!data.empty()) sink(data);
        if (remaining_ == 0) end_chunk();
        break;
      }
      case State::DataEnd: {
        if (bytes.front() != "\r\n"[crlf_seen_]) incomplete();
        bytes.remove_prefix(1);
        if (++crlf_seen_ == 2) {
          crlf_seen_ = 0;
          state_ = State::Header;
        }
        break;
      }
      case State::Done:
        return;  // trailers (checksums): the payload is complete
    }
  }
}

void AwsChunkedDecoder::end_header() {
  std::string_view header(header_.data(), header_.size() - 2);
  size_t semi = header.find(';');
  std::string_view hex = header.substr(0, semi);
  if (hex.empty() || hex.size() > 15) incomplete();
  uint64_t size = 0;
  for (char c : hex) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) incomplete();
    size = size * 16 + static_cast<uint64_t>(d);
  }
  if (signed_) {
    std::string_view ext = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    if (ext.substr(0, kSignatureExtension.size()) != kSignatureExtension) bad_signature();
    given_signature_ = std::string(ext.substr(kSignatureExtension.size()));
  }
  header_.clear();
  remaining_ = size;
  final_chunk_ = size == 0;
  state_ = State::Data;
  if (final_chunk_) end_chunk();
}

void AwsChunkedDecoder::end_chunk() {
  if (signed_) {
    std::string expected = auth::chunk_signature_from_hash(signing_key_, amz_date_, credential_scope_, previous_, chunk_hash_->finish_hex());
    if (!auth::signatures_equal(expected, given_signature_)) bad_signature();
    previous_ = std::move(expected);
  }
  state_ = final_chunk_ ? State::Done : State::DataEnd;
}

void AwsChunkedDecoder::finish() const {
  if (state_ != State::Done) incomplete();
}

std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer) {
  std::string out;
  AwsChunkedDecoder decoder(signer);
  decoder.feed(body, [&](std::string_view data) { out.append(data); });
  decoder.finish();
  return out;
}

}  // namespace vigil::s3
