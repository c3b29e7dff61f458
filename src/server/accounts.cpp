#include "server/accounts.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace vigil::server {

std::string Principal::arn() const {
  if (is_anonymous) return {};
  if (is_root) return "arn:aws:iam::" + account_id + ":root";
  return "arn:aws:iam::" + account_id + ":user/" + user_name;
}

std::string Principal::principal_id() const {
  if (is_anonymous) return {};
  if (is_root) return account_id;
  // AWS user ids are opaque "AIDA..." strings; derive a stable one from the key id.
  std::string id = "AIDA";
  for (char c : access_key_id)
    if (std::isalnum(static_cast<unsigned char>(c))) id += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return id.substr(0, 21);
}

ServerConfig default_config() { return ServerConfig{}; }

ServerConfig load_config(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << "config " << path << ": " << e.description() << " at line " << e.source().begin.line;
    throw std::runtime_error(message.str());
  }
  ServerConfig config;
  bool has_accounts = root["accounts"].is_array();
  config.dev_credentials = root["dev_credentials"].value_or(!has_accounts);
  config.allow_reset = root["allow_reset"].value_or(false);
  config.record_api_calls = root["record_api_calls"].value_or(true);
  config.default_region = root["default_region"].value_or(std::string("us-east-1"));
  if (auto* node = root.get("s3_virtual_host_suffixes")) {
    auto* list = node->as_array();
    if (!list) throw std::runtime_error("config " + path + ": s3_virtual_host_suffixes must be an array of host names");
    std::vector<std::string> suffixes;
    for (auto& item : *list) {
      auto name = item.value<std::string>();
      if (!name || name->empty() || name->front() == '.')
        throw std::runtime_error("config " + path + ": s3_virtual_host_suffixes entries must be host names such as \"s3.example.internal\"");
      suffixes.push_back(*name);
    }
    config.s3_virtual_host_suffixes = std::move(suffixes);
  }
  if (auto* accounts = root["accounts"].as_array()) {
    for (auto& node : *accounts) {
      auto* account = node.as_table();
      if (!account) throw std::runtime_error("config " + path + ": each [[accounts]] entry must be a table");
      std::string id = (*account)["id"].value_or(std::string());
      if (id.size() != 12 || !std::all_of(id.begin(), id.end(), ::isdigit))
        throw std::runtime_error("config " + path + ": account id '" + id + "' must be 12 digits");
      if (auto* users = (*account)["users"].as_array()) {
        for (auto& user_node : *users) {
          auto* user = user_node.as_table();
          if (!user) continue;
          Principal p;
          p.account_id = id;
          p.user_name = (*user)["name"].value_or(std::string("root"));
          p.is_root = p.user_name == "root";
          p.access_key_id = (*user)["access_key_id"].value_or(std::string());
          p.secret_access_key = (*user)["secret_access_key"].value_or(std::string());
          if (p.access_key_id.empty() || p.secret_access_key.empty())
            throw std::runtime_error("config " + path + ": user '" + p.user_name + "' of account " + id + " needs access_key_id and secret_access_key");
          config.principals.push_back(std::move(p));
        }
      }
    }
  }
  return config;
}

Accounts::Accounts(ServerConfig config) : config_(std::move(config)) {
  if (config_.dev_credentials) {
    Principal dev;
    dev.account_id = std::string(kDevAccountId);
    dev.user_name = "root";
    dev.is_root = true;
    dev.access_key_id = std::string(kDevAccessKey);
    dev.secret_access_key = std::string(kDevSecretKey);
    config_.principals.push_back(dev);
  }
  for (size_t i = 0; i < config_.principals.size(); ++i) {
    if (!by_key_.emplace(config_.principals[i].access_key_id, i).second)
      throw std::runtime_error("access key " + config_.principals[i].access_key_id + " is declared twice");
  }
}

const Principal* Accounts::find(std::string_view access_key_id) const {
  auto it = by_key_.find(std::string(access_key_id));
  return it == by_key_.end() ? nullptr : &config_.principals[it->second];
}

}  // namespace vigil::server
