#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace kube::testing {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  // Best effort: a leftover directory must not fail the test that used it.
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& rel, const std::string& content, bool exec) const {
  fs::path p = fs::path(path_) / fs::path(rel).relative_path();
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  if (exec) fs::permissions(p, fs::perms::owner_all);
  return p.string();
}

}  // namespace kube::testing
