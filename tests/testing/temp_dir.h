// A scratch directory for one test, removed with its contents afterwards.
#pragma once

#include <string>

namespace kube::testing {

// Creates a fresh directory under the system temp directory (named
// `<prefix>XXXXXX`) and removes it recursively on destruction. The
// constructor REQUIREs that the directory could be made, so use it only in
// a test case's thread. Not copyable.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "kubemigrate-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` to `rel` below the directory, creating parent
  // directories; owner-only rwx when `exec`. Returns the file's full path.
  std::string Write(const std::string& rel, const std::string& content, bool exec = false) const;

 private:
  std::string path_;
};

}  // namespace kube::testing
