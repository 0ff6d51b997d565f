// Forced kinds the kernel cannot serve must fail with an error that names the
// cause. This kernel supports everything, so the missing pieces are simulated:
// the feature check is a pure function, and a forked child installs a seccomp
// filter that makes the userfaultfd syscall or the PAGEMAP_SCAN ioctl fail the
// way an old or locked-down kernel does.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/kernel_uapi.h"
#include "runtime/dirty/uffd_tracker.h"

namespace respct::dirty {
namespace {

using Kind = DirtyTracker::Kind;

TEST(ParseTrackerKindTest, KnownAndUnknownNames) {
  EXPECT_EQ(ParseTrackerKind("").value(), Kind::kAuto);
  EXPECT_EQ(ParseTrackerKind("auto").value(), Kind::kAuto);
  EXPECT_EQ(ParseTrackerKind("uffd").value(), Kind::kUffd);
  EXPECT_EQ(ParseTrackerKind("mprotect").value(), Kind::kMprotect);
  EXPECT_EQ(ParseTrackerKind("scan").value(), Kind::kScan);
  const auto bad = ParseTrackerKind("softdirty");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown tracker 'softdirty'"), std::string::npos);
  for (Kind k : {Kind::kAuto, Kind::kUffd, Kind::kMprotect, Kind::kScan}) {
    EXPECT_EQ(ParseTrackerKind(TrackerKindName(k)).value(), k);
  }
}

TEST(UffdFeaturesTest, MissingWpAsyncIsNamed) {
  const Status st =
      UffdTracker::CheckFeatures(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "uffd tracker: kernel lacks UFFD_FEATURE_WP_ASYNC (needs ≥ 6.7)");
  EXPECT_FALSE(UffdTracker::CheckFeatures(0).ok());
  EXPECT_TRUE(UffdTracker::CheckFeatures(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC |
                                         UFFD_FEATURE_WP_UNPOPULATED)
                  .ok());
}

struct Deny {
  long nr;
  long arg1;  // -1: any; else the (32-bit) value of argument 1 to match
  int err;
};

// Runs `body` in a child whose syscalls in `rules` fail with the given errno;
// returns what the child wrote to its pipe.
template <typename Body>
std::string InLockedDownChild(std::initializer_list<Deny> rules, Body body) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (const Deny& d : rules) {
      std::vector<sock_filter> f = {
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<__u32>(d.nr), 1, 0),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      };
      if (d.arg1 != -1) {
        f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])));
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<__u32>(d.arg1), 1, 0));
        f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      }
      f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<__u32>(d.err)));
      sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
      if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(2);
    }
    const std::string out = body();
    if (write(fds[1], out.data(), out.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: " + out;
  return out;
}

std::string CreateMessage(Kind kind) {
  auto t = DirtyTracker::Create(kind);
  return t.ok() ? "ok:" + std::string(t.value()->name()) : t.status().message();
}

TEST(ForcedUnsupportedTest, NoUserfaultfdSyscall) {
  EXPECT_EQ(InLockedDownChild({{SYS_userfaultfd, -1, ENOSYS}}, [] { return CreateMessage(Kind::kUffd); }),
            "userfaultfd: not available (kernel built without CONFIG_USERFAULTFD, or the syscall is "
            "filtered by seccomp)");
}

TEST(ForcedUnsupportedTest, UserfaultfdPermissionDenied) {
  // Both routes refused: the syscall and /dev/userfaultfd's USERFAULTFD_IOC_NEW.
  EXPECT_EQ(InLockedDownChild({{SYS_userfaultfd, -1, EPERM},
                               {SYS_ioctl, static_cast<long>(USERFAULTFD_IOC_NEW), EPERM}},
                              [] { return CreateMessage(Kind::kUffd); }),
            "userfaultfd: permission denied; run as root or set vm.unprivileged_userfaultfd=1");
}

TEST(ForcedUnsupportedTest, NoPagemapScan) {
  const std::string msg = InLockedDownChild({{SYS_ioctl, static_cast<long>(PAGEMAP_SCAN), ENOTTY}},
                                            [] { return CreateMessage(Kind::kUffd); });
  EXPECT_NE(msg.find("PAGEMAP_SCAN"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs ≥ 6.7"), std::string::npos) << msg;
}

TEST(ForcedUnsupportedTest, AutoFallsBackToMprotectAndSaysWhy) {
  EXPECT_EQ(InLockedDownChild({{SYS_userfaultfd, -1, ENOSYS}},
                              [] {
                                std::string why;
                                auto t = DirtyTracker::Create(Kind::kAuto, &why);
                                return t.ok() ? std::string(t.value()->name()) + " | " + why
                                              : t.status().message();
                              }),
            "mprotect | userfaultfd: not available (kernel built without CONFIG_USERFAULTFD, or "
            "the syscall is filtered by seccomp)");
}

TEST(AutoTest, PicksUffdWhenTheKernelHasIt) {
  auto uffd = DirtyTracker::Create(Kind::kUffd);
  std::string why = "untouched";
  auto any = DirtyTracker::Create(Kind::kAuto, &why);
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  if (uffd.ok()) {
    EXPECT_EQ(any.value()->kind(), Kind::kUffd);
    EXPECT_EQ(why, "");
  } else {
    EXPECT_NE(any.value()->kind(), Kind::kUffd) << uffd.status().ToString();
  }
}

}  // namespace
}  // namespace respct::dirty
