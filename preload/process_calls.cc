// Process attributes the kernel-object layer records for a recovery
// (runtime/kernel/process_attrs.h, signals.h): the working directory, the
// umask, resource limits and interval timers.
//
// May run before init (nothing is recorded then) and in a signal handler
// (chdir, umask, alarm, setitimer; the recording only stores).
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "preload/libc_next.h"
#include "runtime/core/fd_recording.h"
#include "runtime/kernel/process_attrs.h"
#include "runtime/kernel/signals.h"

using respct::core::FdChanged;
using respct::kernel::KernelObjects;
using respct::preload::Next;
namespace kernel = respct::kernel;

#define RESPCT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

Next<int (*)(const char*)> next_chdir("chdir");
Next<int (*)(int)> next_fchdir("fchdir");
Next<mode_t (*)(mode_t)> next_umask("umask");
Next<int (*)(__rlimit_resource_t, const rlimit64*)> next_setrlimit64("setrlimit64");
Next<int (*)(pid_t, enum __rlimit_resource, const rlimit64*, rlimit64*)> next_prlimit64("prlimit64");
Next<unsigned (*)(unsigned)> next_alarm("alarm");
Next<int (*)(int, const itimerval*, itimerval*)> next_setitimer("setitimer");

void Limit(int resource, const rlimit64& value) {
  FdChanged([&](KernelObjects& k) { kernel::RecordRlimit(k.table().header(), resource, value); });
}

}  // namespace

RESPCT_EXPORT int chdir(const char* path) {
  const int r = next_chdir.get()(path);
  if (r == 0) FdChanged([](KernelObjects& k) { kernel::RecordWorkingDirectory(k.table().header()); });
  return r;
}

RESPCT_EXPORT int fchdir(int fd) {
  const int r = next_fchdir.get()(fd);
  if (r == 0) FdChanged([](KernelObjects& k) { kernel::RecordWorkingDirectory(k.table().header()); });
  return r;
}

RESPCT_EXPORT mode_t umask(mode_t mask) {
  const mode_t old = next_umask.get()(mask);
  FdChanged([&](KernelObjects& k) { kernel::RecordUmask(k.table().header(), mask); });
  return old;
}

RESPCT_EXPORT int setrlimit64(__rlimit_resource_t resource, const rlimit64* value) {
  const int r = next_setrlimit64.get()(resource, value);
  if (r == 0) Limit(resource, *value);
  return r;
}
RESPCT_EXPORT int setrlimit(__rlimit_resource_t resource, const rlimit* value) {
  const rlimit64 v{value->rlim_cur, value->rlim_max};
  return setrlimit64(resource, &v);
}
RESPCT_EXPORT int prlimit64(pid_t pid, enum __rlimit_resource resource, const rlimit64* value, rlimit64* old) {
  const int r = next_prlimit64.get()(pid, resource, value, old);
  if (r == 0 && value != nullptr && (pid == 0 || pid == getpid())) Limit(resource, *value);
  return r;
}
RESPCT_EXPORT int prlimit(pid_t pid, enum __rlimit_resource resource, const rlimit* value, rlimit* old) {
  rlimit64 v{}, o{};
  if (value != nullptr) v = rlimit64{value->rlim_cur, value->rlim_max};
  const int r = prlimit64(pid, resource, value != nullptr ? &v : nullptr, old != nullptr ? &o : nullptr);
  if (r == 0 && old != nullptr) *old = rlimit{static_cast<rlim_t>(o.rlim_cur), static_cast<rlim_t>(o.rlim_max)};
  return r;
}

RESPCT_EXPORT int setitimer(int which, const itimerval* value, itimerval* old) {
  const int r = next_setitimer.get()(which, value, old);
  if (r == 0 && value != nullptr) FdChanged([&](KernelObjects& k) { kernel::RecordItimer(k.table().header(), which, *value); });
  return r;
}

RESPCT_EXPORT unsigned alarm(unsigned seconds) {
  const unsigned r = next_alarm.get()(seconds);
  itimerval v{};
  v.it_value.tv_sec = seconds;
  FdChanged([&](KernelObjects& k) { kernel::RecordItimer(k.table().header(), ITIMER_REAL, v); });
  return r;
}
