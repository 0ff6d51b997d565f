// Process attributes the kernel-object layer records for a recovery
// (runtime/kernel/process_attrs.h, signals.h): the working directory, the
// umask, resource limits and interval timers.
//
// And the setuid family, which is never a restart point: glibc's
// __nptl_setxid signals every thread and waits for each to apply the change,
// holding its stack-list lock and a global command (libc's own data, not
// restored) across those system calls. A memcached image taken while its main
// thread waited there (setgid, for -u) resumed waiting forever. The
// credentials themselves are not recorded: a recovered process has those of
// whoever runs respct-recover.
//
// May run before init (nothing is recorded then) and in a signal handler
// (chdir, umask, alarm, setitimer; the recording only stores; the setuid
// family only counts the thread's unparkable depth).
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/fd_recording.h"
#include "runtime/kernel/process_attrs.h"
#include "runtime/kernel/signals.h"

using respct::core::FdChanged;
using respct::kernel::KernelObjects;
using respct::preload::Next;
namespace kernel = respct::kernel;

namespace {

Next<int (*)(const char*)> next_chdir("chdir");
Next<int (*)(int)> next_fchdir("fchdir");
Next<mode_t (*)(mode_t)> next_umask("umask");
Next<int (*)(__rlimit_resource_t, const rlimit64*)> next_setrlimit64("setrlimit64");
Next<int (*)(pid_t, enum __rlimit_resource, const rlimit64*, rlimit64*)> next_prlimit64("prlimit64");
Next<unsigned (*)(unsigned)> next_alarm("alarm");
Next<int (*)(int, const itimerval*, itimerval*)> next_setitimer("setitimer");
Next<int (*)(uid_t)> next_setuid("setuid");
Next<int (*)(gid_t)> next_setgid("setgid");
Next<int (*)(uid_t)> next_seteuid("seteuid");
Next<int (*)(gid_t)> next_setegid("setegid");
Next<int (*)(uid_t, uid_t)> next_setreuid("setreuid");
Next<int (*)(gid_t, gid_t)> next_setregid("setregid");
Next<int (*)(uid_t, uid_t, uid_t)> next_setresuid("setresuid");
Next<int (*)(gid_t, gid_t, gid_t)> next_setresgid("setresgid");
Next<int (*)(size_t, const gid_t*)> next_setgroups("setgroups");

template <typename Fn, typename... Args>
int Unparkable(Next<Fn>& next, Args... args) {
  respct::core::UnparkableScope scope;
  return next.get()(args...);
}

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

RESPCT_EXPORT int setuid(uid_t uid) { return Unparkable(next_setuid, uid); }
RESPCT_EXPORT int setgid(gid_t gid) { return Unparkable(next_setgid, gid); }
RESPCT_EXPORT int seteuid(uid_t uid) { return Unparkable(next_seteuid, uid); }
RESPCT_EXPORT int setegid(gid_t gid) { return Unparkable(next_setegid, gid); }
RESPCT_EXPORT int setreuid(uid_t r, uid_t e) { return Unparkable(next_setreuid, r, e); }
RESPCT_EXPORT int setregid(gid_t r, gid_t e) { return Unparkable(next_setregid, r, e); }
RESPCT_EXPORT int setresuid(uid_t r, uid_t e, uid_t s) { return Unparkable(next_setresuid, r, e, s); }
RESPCT_EXPORT int setresgid(gid_t r, gid_t e, gid_t s) { return Unparkable(next_setresgid, r, e, s); }
RESPCT_EXPORT int setgroups(size_t n, const gid_t* groups) { return Unparkable(next_setgroups, n, groups); }
