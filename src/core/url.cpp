#include "core/url.h"

namespace vigil {

std::string HttpUrl::base_path() const {
  std::string path = target.substr(0, target.find('?'));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  HttpUrl u;
  size_t start;
  if (url.rfind("http://", 0) == 0) start = 7;
  else if (url.rfind("https://", 0) == 0) u.https = true, start = 8;
  else return std::nullopt;
  size_t slash = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = std::string(authority.substr(close + 2));
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return std::nullopt;
  if (u.port.empty()) u.port = u.https ? "443" : "80";
  return u;
}

}  // namespace vigil
