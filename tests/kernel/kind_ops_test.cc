// The kinds' recreate and describe functions against hand-made records, with
// no LD_PRELOAD and no image: what each builds from a record alone.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "runtime/kernel/kind_ops.h"
#include "runtime/kernel/memfd.h"

namespace respct::kernel {
namespace {

std::unique_ptr<FdRecord> NewRecord(FdKind kind) {
  auto r = std::make_unique<FdRecord>();
  std::memset(static_cast<void*>(r.get()), 0, sizeof *r);
  r->kind = kind;
  return r;
}

int RecreateOne(const FdRecord& r) {
  const KindOps* ops = OpsFor(r.kind);
  if (ops == nullptr) return -1;
  RecreateContext ctx{nullptr};
  const FdRecord* members[1] = {&r};
  int fd = -1;
  const Status st = ops->recreate(ctx, members, 1, &fd);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return st.ok() ? fd : -1;
}

// A memfd made without MFD_ALLOW_SEALING reports F_SEAL_SEAL (the kernel's
// own); recreating it must not try to add that seal again (EPERM).
TEST(MemFdKind, UnsealableMemfdIsRecreated) {
  auto r = NewRecord(FdKind::kMemFd);
  MemFdRecord* m = r->As<MemFdRecord>();
  std::strcpy(m->name, "unsealable");
  m->flags = MFD_CLOEXEC;
  m->seals = F_SEAL_SEAL;
  m->size = 4096;
  const int fd = RecreateOne(*r);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
  EXPECT_EQ(lseek(fd, 0, SEEK_END), 4096);
  close(fd);
}

TEST(MemFdKind, SealsOfASealableMemfdAreAppliedAgain) {
  auto r = NewRecord(FdKind::kMemFd);
  MemFdRecord* m = r->As<MemFdRecord>();
  std::strcpy(m->name, "sealed");
  m->flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  m->seals = F_SEAL_GROW | F_SEAL_SHRINK;
  m->size = 100;
  const int fd = RecreateOne(*r);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_GROW | F_SEAL_SHRINK);
  EXPECT_NE(ftruncate(fd, 200), 0);
  close(fd);
  EXPECT_EQ(OpsFor(FdKind::kMemFd)->describe(*r), "memfd 'sealed' 100 B");
}

}  // namespace
}  // namespace respct::kernel
