// http:// and https:// URLs split for a client connection (SNS deliveries, `vigil trail
// validate --endpoint`): no dependency, no normalization beyond what a request needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vigil {

struct HttpUrl {
  bool https = false;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // "80" / "443" when the URL has none
  std::string target;  // path and query, always starting with '/'; the fragment dropped
  // The target's path without its query and trailing slashes ("" for the root).
  std::string base_path() const;
};

// nullopt for another scheme, an empty host or an unclosed IPv6 bracket. Userinfo is dropped.
std::optional<HttpUrl> parse_http_url(std::string_view url);

}  // namespace vigil
