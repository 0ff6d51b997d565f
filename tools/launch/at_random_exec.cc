#include "tools/launch/at_random_exec.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace respct::launch {
namespace {

bool ReadAll(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void WriteAll(int fd, const void* buf, size_t n) { (void)!write(fd, buf, n); }

// In the helper: the address of the tracee's AT_RANDOM bytes, or 0.
uint64_t AtRandomAddress(pid_t pid) {
  const int fd = open(("/proc/" + std::to_string(pid) + "/auxv").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  Elf64_auxv_t aux[64];
  const ssize_t n = read(fd, aux, sizeof aux);
  close(fd);
  for (ssize_t i = 0; n > 0 && i < n / static_cast<ssize_t>(sizeof aux[0]); ++i)
    if (aux[i].a_type == AT_RANDOM) return aux[i].a_un.a_val;
  return 0;
}

// The helper's life: attach, wait for the exec stop, write, detach. Its exit
// status is for nobody (it is reparented); failures show up in the program,
// whose shim refuses to resume with the wrong AT_RANDOM.
[[noreturn]] void RunHelper(pid_t target, const uint8_t (&bytes)[16], int go_fd, int report_fd) {
  char go = 0;
  if (!ReadAll(go_fd, &go, 1)) _exit(1);
  int err = 0;
  if (ptrace(PTRACE_SEIZE, target, nullptr, reinterpret_cast<void*>(PTRACE_O_TRACEEXEC)) != 0) err = errno;
  WriteAll(report_fd, &err, sizeof err);
  close(report_fd);
  if (err != 0) _exit(1);
  for (;;) {
    int status = 0;
    if (waitpid(target, &status, __WALL) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) _exit(1);  // exec failed and the tool exited
    if (!WIFSTOPPED(status)) continue;
    if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) break;
    // Any other stop is a signal on its way to the tracee: deliver it.
    ptrace(PTRACE_CONT, target, nullptr, reinterpret_cast<void*>(static_cast<uintptr_t>(WSTOPSIG(status))));
  }
  const uint64_t addr = AtRandomAddress(target);
  const int mem = open(("/proc/" + std::to_string(target) + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  if (addr != 0 && mem >= 0) (void)!pwrite(mem, bytes, sizeof bytes, static_cast<off_t>(addr));
  if (mem >= 0) close(mem);
  ptrace(PTRACE_DETACH, target, nullptr, nullptr);
  _exit(0);
}

}  // namespace

Status ArrangeAtRandomForExec(const uint8_t (&bytes)[16]) {
  int to_helper[2], from_helper[2];
  if (pipe2(to_helper, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (pipe2(from_helper, O_CLOEXEC) != 0) {
    close(to_helper[0]);
    close(to_helper[1]);
    return Status::FromErrno("pipe", errno);
  }
  const pid_t target = getpid();
  const pid_t middle = fork();
  if (middle < 0) return Status::FromErrno("fork", errno);
  if (middle == 0) {
    const pid_t helper = fork();
    if (helper == 0) {
      close(to_helper[1]);
      close(from_helper[0]);
      RunHelper(target, bytes, to_helper[0], from_helper[1]);
    }
    WriteAll(from_helper[1], &helper, sizeof helper);
    _exit(0);
  }
  close(to_helper[0]);
  close(from_helper[1]);
  pid_t helper = -1;
  const bool got_pid = ReadAll(from_helper[0], &helper, sizeof helper);
  waitpid(middle, nullptr, 0);
  Status st;
  if (!got_pid || helper <= 0) {
    st = Status::IOError("could not start the AT_RANDOM helper");
  } else {
    // Yama (ptrace_scope 1) lets only ancestors trace: name the helper.
    prctl(PR_SET_PTRACER, static_cast<unsigned long>(helper), 0, 0, 0);
    WriteAll(to_helper[1], "g", 1);
    int err = 0;
    if (!ReadAll(from_helper[0], &err, sizeof err)) {
      st = Status::IOError("the AT_RANDOM helper died");
    } else if (err != 0) {
      st = Status::FromErrno("ptrace(PTRACE_SEIZE) to set AT_RANDOM (is ptrace allowed here? "
                             "see /proc/sys/kernel/yama/ptrace_scope)",
                             err);
    }
  }
  close(to_helper[1]);
  close(from_helper[0]);
  return st;
}

}  // namespace respct::launch
