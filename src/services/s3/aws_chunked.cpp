#include "services/s3/aws_chunked.h"

#include <algorithm>
#include <cctype>

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

[[noreturn]] void malformed_trailer() {
  throw AwsError("MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema.", 400);
}

constexpr std::string_view kSignatureExtension = "chunk-signature=";
constexpr std::string_view kTrailerSignature = "x-amz-trailer-signature";

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(const std::optional<ChunkSigner>& signer) {
  if (!signer) return;
  signed_ = true;
  signing_key_ = std::string(signer->signing_key);
  amz_date_ = std::string(signer->amz_date);
  credential_scope_ = std::string(signer->credential_scope);
  previous_ = std::string(signer->seed_signature);
  signed_trailer_ = signer->signed_trailer;
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
      case State::Trailers: {
        // "name:value\r\n" lines up to a blank one, split anywhere like chunk headers.
        size_t nl = bytes.find('\n');
        size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
        trailer_bytes_ += take;
        if (trailer_bytes_ > kMaxTrailerBytes) malformed_trailer();
        header_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        if (header_.size() >= 2 && header_.compare(header_.size() - 2, 2, "\r\n") == 0) trailer_line();
        break;
      }
      case State::Done:
        return;  // what follows the blank line after the trailers is not part of the body
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
  state_ = final_chunk_ ? State::Trailers : State::DataEnd;
}

void AwsChunkedDecoder::trailer_line() {
  std::string_view line(header_.data(), header_.size() - 2);
  if (line.empty()) {
    header_.clear();
    end_trailers();
    state_ = State::Done;
    return;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) malformed_trailer();
  std::string name(trim_spaces(line.substr(0, colon)));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string value(trim_spaces(line.substr(colon + 1)));
  header_.clear();
  if (name == kTrailerSignature) {
    if (!trailer_signature_.empty()) malformed_trailer();
    trailer_signature_ = std::move(value);
  } else {
    trailers_.emplace_back(std::move(name), std::move(value));
  }
}

void AwsChunkedDecoder::end_trailers() {
  if (trailers_checked_) return;
  trailers_checked_ = true;
  // A signed-trailer body's trailers are covered by their own signature, chained from the final
  // chunk's: without it anyone on the path could swap the checksum along with the bytes.
  if (!signed_ || !signed_trailer_ || (trailers_.empty() && trailer_signature_.empty())) return;
  std::string canonical;
  for (const auto& [name, value] : trailers_) canonical.append(name).append(":").append(value).append("\n");
  std::string expected = auth::trailer_signature(signing_key_, amz_date_, credential_scope_, previous_, canonical);
  if (trailer_signature_.empty() || !auth::signatures_equal(expected, trailer_signature_)) bad_signature();
}

void AwsChunkedDecoder::finish() {
  if (state_ == State::Trailers) {
    // The body may end after the final chunk or after its trailer lines without the closing
    // blank line (clients differ); a line cut short is malformed.
    if (!header_.empty()) malformed_trailer();
    end_trailers();
    return;
  }
  if (state_ != State::Done) incomplete();
}

std::string decode_aws_chunked(std::string_view body, const std::optional<ChunkSigner>& signer, std::vector<Trailer>* trailers) {
  std::string out;
  AwsChunkedDecoder decoder(signer);
  decoder.feed(body, [&](std::string_view data) { out.append(data); });
  decoder.finish();
  if (trailers) *trailers = decoder.trailers();
  return out;
}

}  // namespace vigil::s3
