// Plain HTTP request/response values passed between the listener and the protocol layer, so
// codecs and handlers are testable without sockets or Beast.
#pragma once

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

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

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
