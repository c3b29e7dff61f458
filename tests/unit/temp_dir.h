// Scratch directories for tests that open a store or write files.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace vigil::testing {

// A new empty directory under the system's temp directory, named <prefix>-XXXXXX.
inline std::string make_temp_dir(const std::string& prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp " + templ);
  return templ;
}

// The same, removed with everything in it when the object goes.
struct TempDir {
  explicit TempDir(const std::string& prefix = "vigil-test") : path(make_temp_dir(prefix)) {}
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

}  // namespace vigil::testing
