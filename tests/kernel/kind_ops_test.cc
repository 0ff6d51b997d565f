// The kinds' recreate and describe functions against hand-made records, with
// no LD_PRELOAD and no image: what each builds from a record alone.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/kernel/kind_ops.h"
#include "runtime/kernel/eventfd.h"
#include "runtime/kernel/memfd.h"
#include "runtime/kernel/timerfd.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/regular_file.h"
#include "runtime/kernel/socket_record.h"

namespace respct::kernel {
namespace {

std::unique_ptr<FdRecord> NewRecord(FdKind kind) {
  auto r = std::make_unique<FdRecord>();
  std::memset(static_cast<void*>(r.get()), 0, sizeof *r);
  r->kind = kind;
  return r;
}

int RecreateOne(const FdRecord& r, std::vector<std::string>* warnings = nullptr) {
  const KindOps* ops = OpsFor(r.kind);
  if (ops == nullptr) return -1;
  std::vector<std::string> ignored;
  RecreateContext ctx{nullptr, warnings != nullptr ? warnings : &ignored};
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

TEST(EventFdKind, SemaphoreCounterIsRecreated) {
  auto r = NewRecord(FdKind::kEventFd);
  r->As<EventFdRecord>()->count = 3;
  r->As<EventFdRecord>()->flags = EFD_SEMAPHORE | EFD_NONBLOCK;
  const int fd = RecreateOne(*r);
  ASSERT_GE(fd, 0);
  // Recreated blocking; Place sets the recorded O_NONBLOCK.
  fcntl(fd, F_SETFL, O_NONBLOCK);
  uint64_t v = 0;
  int reads = 0;
  while (read(fd, &v, sizeof v) == sizeof v && v == 1 && reads < 10) ++reads;
  EXPECT_EQ(reads, 3);
  close(fd);
}

TEST(TimerFdKind, IntervalAndPendingExpiryAreRecreated) {
  auto r = NewRecord(FdKind::kTimerFd);
  TimerFdRecord* t = r->As<TimerFdRecord>();
  t->clock = CLOCK_MONOTONIC;
  t->value_ns = 5'000'000'000;
  t->interval_ns = 250'000'000;
  t->ticks = 2;  // expirations pending at the epoch: it fires at once
  const int fd = RecreateOne(*r);
  ASSERT_GE(fd, 0);
  itimerspec cur{};
  ASSERT_EQ(timerfd_gettime(fd, &cur), 0);
  EXPECT_EQ(cur.it_interval.tv_nsec, 250'000'000);
  uint64_t n = 0;
  EXPECT_EQ(read(fd, &n, sizeof n), static_cast<ssize_t>(sizeof n));
  EXPECT_GE(n, 1u);
  close(fd);
}

// A pipe whose write end the program had closed: the reader gets the
// buffered bytes, then end of file.
TEST(PipeKind, BufferedBytesThenEndOfFile) {
  static char held[] = "held-in-the-pipe";
  auto r = NewRecord(FdKind::kPipe);
  PipeRecord* p = r->As<PipeRecord>();
  p->end = 0;
  p->buffered.data = reinterpret_cast<uint64_t>(held);
  p->buffered.length = sizeof held - 1;
  p->buffered.capacity = sizeof held;
  const int fd = RecreateOne(*r);
  ASSERT_GE(fd, 0);
  char buf[64] = {};
  EXPECT_EQ(read(fd, buf, sizeof buf), static_cast<ssize_t>(sizeof held - 1));
  EXPECT_STREQ(buf, held);
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);
  close(fd);
  EXPECT_EQ(OpsFor(FdKind::kPipe)->describe(*r), "pipe read end #0 (16 B buffered)");
}

// A file open for writing that grew after the epoch comes back cut to its
// size at the epoch, at the epoch's offset, and the cut is said.
TEST(FileKind, WritableFileIsCutBackToItsSizeAtTheEpoch) {
  char path[] = "/tmp/respct-filekind-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "epoch-bytes", 11), 11);
  void* region = mmap(nullptr, KernelRegionBytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(region, MAP_FAILED);
  FdTable table(reinterpret_cast<uintptr_t>(region));
  table.Format();
  RecordFileOpen(&table, fd, AT_FDCWD, path, O_RDWR | O_CREAT);
  CaptureContext cctx{&table, nullptr};
  OpsFor(FdKind::kFile)->capture(cctx, fd, table.at(fd));  // the epoch
  ASSERT_EQ(write(fd, "-lost", 5), 5);                      // after it
  close(fd);
  std::vector<std::string> warnings;
  const int again = RecreateOne(*table.at(fd), &warnings);
  ASSERT_GE(again, 0);
  struct stat st {};
  ASSERT_EQ(fstat(again, &st), 0);
  EXPECT_EQ(st.st_size, 11);
  EXPECT_EQ(lseek(again, 0, SEEK_CUR), 11);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("5 written after it removed"), std::string::npos) << warnings[0];
  close(again);
  unlink(path);
  munmap(region, KernelRegionBytes());
}

TEST(RestoreTally, CountsDescriptorsByCategoryWithBufferedBytes) {
  RestoreTally t;
  EXPECT_EQ(t.Text(), "0 fds");
  auto file = NewRecord(FdKind::kFile);
  t.Add(*file);
  EXPECT_EQ(t.Text(), "1 fd: 1 file");
  t.Add(*file);
  auto listener = NewRecord(FdKind::kInetSocket);
  listener->As<SocketRecord>()->type = SOCK_STREAM;
  listener->As<SocketRecord>()->state = kSocketListening;
  auto conn = NewRecord(FdKind::kInetSocket);
  conn->As<SocketRecord>()->type = SOCK_STREAM;
  conn->As<SocketRecord>()->state = kSocketConnected;
  auto udp = NewRecord(FdKind::kInetSocket);
  udp->As<SocketRecord>()->type = SOCK_DGRAM;
  udp->As<SocketRecord>()->state = kSocketBound;
  for (int i = 0; i < 4; ++i) t.Add(*listener);
  t.Add(*conn);
  t.Add(*udp);
  auto reader = NewRecord(FdKind::kPipe);
  reader->As<PipeRecord>()->end = 0;
  reader->As<PipeRecord>()->buffered.length = 3174;
  auto writer = NewRecord(FdKind::kPipe);
  writer->As<PipeRecord>()->end = 1;
  t.Add(*reader);
  t.Add(*writer);
  auto ep = NewRecord(FdKind::kEpoll);
  t.Add(*ep);
  auto ev = NewRecord(FdKind::kEventFd);
  t.Add(*ev);
  t.Add(*ev);
  EXPECT_EQ(t.total(), 13);
  EXPECT_EQ(t.Text(),
            "13 fds: 4 tcp listeners, 1 tcp socket, 1 udp socket, 1 epoll, 2 eventfd, 2 pipe ends (3.1 KiB "
            "buffered), 2 files");
}

}  // namespace
}  // namespace respct::kernel
