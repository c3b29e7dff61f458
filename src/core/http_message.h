// Plain HTTP request/response values passed between the listener and the protocol layer, so
// codecs and handlers are testable without sockets or Beast.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

struct HttpRequest {
  std::string method;
  std::string path;    // still percent-encoded, without the query
  std::string query;   // after '?', still percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;

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

  int fd() const { return fd_; }
  uint64_t offset() const { return offset_; }
  uint64_t length() const { return length_; }

 private:
  int fd_;
  uint64_t offset_, length_;
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

}  // namespace vigil
