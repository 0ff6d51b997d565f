// TestImageFile: a recovery image file built from regions held in memory
// (written by RecoveryImageWriter, the format's one writer), for the tests of
// what reads one: Recovery, the Checkpointer's shadow seeded from an image.
// The file is a temporary one in /tmp, removed with the object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace respct::testing {

class TestImageFile {
 public:
  struct Region {
    uint32_t id;
    uint64_t base;               // address the region lives at
    uint64_t size;               // the whole region
    std::vector<uint8_t> bytes;  // its stored prefix (at most `size`)
  };

  // Writes an image of `regions`, each storing `bytes` from its start.
  static Result<TestImageFile> Write(uint64_t epoch, const std::string& app, const std::vector<Region>& regions);
  TestImageFile(TestImageFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TestImageFile& operator=(TestImageFile&&) = delete;
  TestImageFile(const TestImageFile&) = delete;
  ~TestImageFile();

  const std::string& path() const { return path_; }

 private:
  explicit TestImageFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace respct::testing
