// The one error rule of the codebase: anything that must reach the client as an AWS error is
// thrown as AwsError from a handler, model or codec; the protocol layer renders it in the
// wire shape of the service's protocol (`__type` JSON, XML ErrorResponse, CBOR, S3 <Error>).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vigil {

class AwsError : public std::runtime_error {
 public:
  AwsError(std::string code, std::string message, int http_status = 400, bool sender_fault = true)
      : std::runtime_error(message),
        code_(std::move(code)),
        http_status_(http_status),
        sender_fault_(sender_fault) {}

  const std::string& code() const { return code_; }
  std::string message() const { return what(); }
  int http_status() const { return http_status_; }
  bool sender_fault() const { return sender_fault_; }

  // Members some errors carry besides Code and Message, in order (S3's <BucketName>, <Key>,
  // <ActualObjectSize>...): `throw AwsError(...).with("Key", key);`.
  AwsError& with(std::string name, std::string value) {
    details_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  const std::vector<std::pair<std::string, std::string>>& details() const { return details_; }

 private:
  std::string code_;
  int http_status_;
  bool sender_fault_;
  std::vector<std::pair<std::string, std::string>> details_;
};

// Common constructors, so the same situation is spelled the same way everywhere.
inline AwsError internal_error(const std::string& detail) {
  return AwsError("InternalFailure", "The request processing has failed because of an unknown error, exception or failure. " + detail, 500, false);
}

}  // namespace vigil
