// FuzzWorkdir: a private directory for a fuzz target's files (a pool, an
// image), on tmpfs where there is one so that millions of runs do not wear
// a disk, removed when the process exits normally. libFuzzer ends a run that
// found a crash with _exit, so a crashed run leaves its directory for a look.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace respct::fuzz {

class FuzzWorkdir {
 public:
  explicit FuzzWorkdir(const std::string& target) {
    const std::string root = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = root + "/respct-fuzz-" + target + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("respct fuzz: mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~FuzzWorkdir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  FuzzWorkdir(const FuzzWorkdir&) = delete;
  FuzzWorkdir& operator=(const FuzzWorkdir&) = delete;

  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace respct::fuzz
