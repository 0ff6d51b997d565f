#include "tests/support/test_image_file.h"

#include <unistd.h>

#include <cstdlib>

#include "runtime/core/recovery_image_writer.h"

namespace respct::testing {

Result<TestImageFile> TestImageFile::Write(uint64_t epoch, const std::string& app,
                                           const std::vector<Region>& regions) {
  char name_template[] = "/tmp/respct-test-image-XXXXXX";
  const int fd = mkstemp(name_template);
  if (fd < 0) return Status::FromErrno("mkstemp", errno);
  close(fd);
  TestImageFile file{std::string(name_template)};
  std::vector<core::RecoveryImageWriter::Region> layout;
  for (const Region& r : regions) layout.push_back({r.id, r.base, r.size, r.bytes.size()});
  auto writer = core::RecoveryImageWriter::Create(file.path_, app, epoch, layout);
  if (!writer.ok()) return writer.status();
  for (uint32_t i = 0; i < regions.size(); ++i)
    RESPCT_RETURN_IF_ERROR(writer->Write(i, 0, regions[i].bytes.data(), regions[i].bytes.size()));
  RESPCT_RETURN_IF_ERROR(writer->Finish());
  return file;
}

TestImageFile::~TestImageFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace respct::testing
