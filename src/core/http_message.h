// Plain HTTP request/response values passed between the listener and the protocol layer, so
// codecs and handlers are testable without sockets or Beast.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

// A keystream transform applied to file bytes in place: `offset` is the position of data[0] in
// the file. Used for S3's encryption at rest (AES-256-CTR: the same call encrypts and
// decrypts, at any offset); the listener stays free of any cipher.
using ByteTransform = std::function<void(char* data, size_t n, uint64_t offset)>;

// A request body the listener received into a file instead of memory (S3 uploads above its
// in-memory threshold: see SpoolPlan). The file lives in the listener's spool directory, on the
// same filesystem as the S3 objects, so a handler can rename it into place instead of copying
// it (take()). Whoever holds the last reference without having taken it removes the file.
// A digest of a spooled body that the service asked for in its SpoolPlan (S3: the upload's
// additional checksum), fed every block as received, before any transform, on the listener's
// worker; the handler finds it again on the RequestBodyFile.
class BodyDigest {
 public:
  virtual ~BodyDigest() = default;
  virtual void update(const char* data, size_t n) = 0;
};

class RequestBodyFile {
 public:
  // Takes ownership of `fd` (open for reading and writing) and of the file at `path`.
  RequestBodyFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~RequestBodyFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  RequestBodyFile(const RequestBodyFile&) = delete;
  RequestBodyFile& operator=(const RequestBodyFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Digests of the raw body computed while it was spooled (raw bytes; empty when the plan did
  // not ask for them), so that nobody reads the file again just to hash it.
  const std::string& md5() const { return md5_; }
  const std::string& sha256() const { return sha256_; }

  // When the plan encrypted the body as it was spooled (SpoolPlan::transform): the transform
  // and its tag (S3: the sealed data key), so readers decrypt and the file can become an
  // object's file as it is.
  void set_transform(ByteTransform transform, std::string tag) {
    transform_ = std::move(transform);
    transform_tag_ = std::move(tag);
  }
  const std::string& transform_tag() const { return transform_tag_; }
  void set_digest(std::shared_ptr<BodyDigest> digest) { digest_ = std::move(digest); }
  // The plan's extra digest of the whole body (complete once the handler runs), if any.
  const std::shared_ptr<BodyDigest>& digest() const { return digest_; }
  // pread() of the body as received (decrypted when the spool file is encrypted).
  ssize_t read_at(char* data, size_t n, uint64_t offset) const {
    ssize_t got = ::pread(fd_, data, n, static_cast<off_t>(offset));
    if (got > 0 && transform_) transform_(data, static_cast<size_t>(got), offset);
    return got;
  }

  // Hands the descriptor and the file over to the caller (who renames or removes it).
  std::pair<int, std::string> take() {
    std::pair<int, std::string> out{fd_, std::move(path_)};
    fd_ = -1;
    path_.clear();
    return out;
  }

  // Set by the listener once the body is complete.
  void set_complete(uint64_t size, std::string md5, std::string sha256) {
    size_ = size;
    md5_ = std::move(md5);
    sha256_ = std::move(sha256);
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_ = 0;
  std::string md5_, sha256_;
  ByteTransform transform_;
  std::string transform_tag_;
  std::shared_ptr<BodyDigest> digest_;
};

struct HttpRequest {
  std::string method;
  std::string path;    // still percent-encoded, without the query
  std::string query;   // after '?', still percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;
  // Set instead of `body` (then empty) when the listener spooled the body to a file.
  std::shared_ptr<RequestBodyFile> body_file;
  // A spooled request's signature was checked when its head arrived, at this clock time
  // (milliseconds since the epoch; 0 otherwise): the check after the body is judged as of then,
  // as S3 does, so an upload that takes longer than the 15-minute skew window still lands.
  int64_t head_authenticated_ms = 0;

  // First value of a header (name in lower case), or empty.
  std::string_view header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
  bool has_header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return true;
    return false;
  }
};

// A response body that stays on disk (S3 GetObject): the listener streams `length` bytes from
// `offset` of the open file in bounded chunks, so an object of gigabytes never sits in memory.
// The descriptor is opened before the answer is built and closed with the last reference: an
// object overwritten or deleted while it is being sent still reads whole, because an unlinked
// file stays readable through a descriptor open on it.
class FileBody {
 public:
  // Takes ownership of `fd`.
  FileBody(int fd, uint64_t offset, uint64_t length) : fd_(fd), offset_(offset), length_(length) {}
  ~FileBody() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;

  // The range is known after the file is opened (S3: once the Range header was checked).
  void set_range(uint64_t offset, uint64_t length) {
    offset_ = offset;
    length_ = length;
  }

  // The file holds ciphertext (S3 encryption at rest): the listener applies this to every
  // chunk after reading it, on the worker that read it, with the chunk's file offset.
  void set_transform(ByteTransform transform) { transform_ = std::move(transform); }

  int fd() const { return fd_; }
  uint64_t offset() const { return offset_; }
  uint64_t length() const { return length_; }
  const ByteTransform& transform() const { return transform_; }

 private:
  int fd_;
  uint64_t offset_, length_;
  ByteTransform transform_;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is this file range instead of `body` (which is then empty); the
  // Content-Length header is its length.
  std::shared_ptr<const FileBody> file_body;

  void set_header(std::string name, std::string value) {
    for (auto& [k, v] : headers) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// How the listener receives a body that may be large (an S3 PutObject or UploadPart): decided
// from the request line and headers, before any body byte is read.
struct SpoolPlan {
  uint64_t max_bytes = 0;  // a larger body (declared, or counted as it arrives) gets `too_large`
  bool md5 = false;        // compute the raw body's MD5 while spooling
  bool sha256 = false;     // ... and its SHA-256
  // When set, applied to each block after the digests and before it is written (S3: encryption
  // at rest, so the spool file never holds plaintext); handed with its tag to the
  // RequestBodyFile (set_transform), whose readers undo it.
  ByteTransform transform;
  std::string transform_tag;
  // When set, fed each block of the raw body (after md5/sha256, before `transform`) and handed
  // to the RequestBodyFile.
  std::shared_ptr<BodyDigest> digest;
  // The answer to a body over max_bytes (S3: EntityTooLarge); the connection closes after it.
  // A head that fails authentication gets max_bytes 0 and its error here: refused before the body.
  HttpResponse too_large;
  int64_t head_authenticated_ms = 0;  // copied to the HttpRequest (see there)
};


}  // namespace vigil
