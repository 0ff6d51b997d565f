// pthread entry points. Synchronisation objects go to the restart-safe
// implementations of runtime/sync (in the caller's own storage, with lock
// depth); thread creation, exit, join and detach go to the runtime, which
// gives every application thread a slot and a persisted stack.
//
// May run before init: every lock function (no allocation, no runtime
// needed); thread functions forward to libc until the runtime is up, and for
// the runtime's own threads. In a signal handler: none (as in POSIX).
#include <pthread.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/libc_entry.h"
#include "preload/start.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/runtime.h"
#include "runtime/core/thread_keys.h"
#include "runtime/sync/sync.h"

namespace rsync = respct::sync;
using respct::core::Runtime;
using respct::core::t_current;

namespace {
respct::preload::Next<int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*)> next_pthread_create(
    "pthread_create");
respct::preload::Next<int (*)(pthread_t, void**)> next_pthread_join("pthread_join");
respct::preload::Next<int (*)(pthread_t)> next_pthread_detach("pthread_detach");
respct::preload::Next<void (*)(void*)> next_pthread_exit("pthread_exit");
respct::preload::Next<int (*)(pthread_t, void**)> next_tryjoin("pthread_tryjoin_np");
respct::preload::Next<int (*)(pthread_t, void**, const timespec*)> next_timedjoin("pthread_timedjoin_np");
respct::preload::Next<int (*)(pthread_t, const char*)> next_setname("pthread_setname_np");

// The runtime, when this call comes from application code it manages.
inline Runtime* RuntimeForCaller() {
  Runtime* rt = Runtime::Active();
  return (rt != nullptr && t_current.in_runtime == 0) ? rt : nullptr;
}
}  // namespace

// The runtime needs libc's own thread functions (calling these names from
// inside librespct.so would come back here).
void respct::preload::FillLibcEntry() {
  respct::core::g_libc.pthread_create = next_pthread_create.get();
  respct::core::g_libc.pthread_join = next_pthread_join.get();
  respct::core::g_libc.pthread_detach = next_pthread_detach.get();
}

// ---- threads ----

RESPCT_EXPORT int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  if (Runtime* rt = RuntimeForCaller()) return rt->CreateThread(t, attr, start, arg);
  return next_pthread_create.get()(t, attr, start, arg);
}

RESPCT_EXPORT __attribute__((noreturn)) void pthread_exit(void* retval) {
  if (Runtime* rt = RuntimeForCaller()) rt->ThreadExiting(retval);
  next_pthread_exit.get()(retval);
  __builtin_unreachable();
}

RESPCT_EXPORT int pthread_join(pthread_t t, void** retval) {
  const int rc = respct::core::RestartPoint::Blocking([&] { return next_pthread_join.get()(t, retval); });
  if (rc == 0)
    if (Runtime* rt = Runtime::Active()) rt->ThreadJoined(t);
  return rc;
}

RESPCT_EXPORT int pthread_tryjoin_np(pthread_t t, void** retval) {
  const int rc = next_tryjoin.get()(t, retval);
  if (rc == 0)
    if (Runtime* rt = Runtime::Active()) rt->ThreadJoined(t);
  return rc;
}

RESPCT_EXPORT int pthread_timedjoin_np(pthread_t t, void** retval, const timespec* abstime) {
  const int rc = respct::core::RestartPoint::Blocking([&] { return next_timedjoin.get()(t, retval, abstime); });
  if (rc == 0)
    if (Runtime* rt = Runtime::Active()) rt->ThreadJoined(t);
  return rc;
}

RESPCT_EXPORT int pthread_detach(pthread_t t) {
  const int rc = next_pthread_detach.get()(t);
  if (rc == 0)
    if (Runtime* rt = Runtime::Active()) rt->ThreadDetached(t);
  return rc;
}

// ---- thread-specific data (persisted: runtime/core/thread_keys.h) ----

RESPCT_EXPORT int pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) {
  return respct::core::ThreadKeys::Create(key, destructor);
}
RESPCT_EXPORT int pthread_key_delete(pthread_key_t key) { return respct::core::ThreadKeys::Delete(key); }
RESPCT_EXPORT void* pthread_getspecific(pthread_key_t key) { return respct::core::ThreadKeys::Get(key); }
RESPCT_EXPORT int pthread_setspecific(pthread_key_t key, const void* value) {
  return respct::core::ThreadKeys::Set(key, reinterpret_cast<uintptr_t>(value));
}

// A thread's name is kernel state: kept in its slot, set again on resume.
RESPCT_EXPORT int pthread_setname_np(pthread_t t, const char* name) {
  const int rc = next_setname.get()(t, name);
  if (rc == 0)
    if (Runtime* rt = RuntimeForCaller()) rt->ThreadNamed(t, name);
  return rc;
}

// ---- mutex ----

RESPCT_EXPORT int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* a) { return rsync::MutexInit(m, a); }
RESPCT_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) { return rsync::MutexDestroy(m); }
RESPCT_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) { return rsync::MutexLock(m); }
RESPCT_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) { return rsync::MutexTrylock(m); }
RESPCT_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* t) { return rsync::MutexTimedlock(m, t); }
RESPCT_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c, const timespec* t) {
  return rsync::MutexClocklock(m, c, t);
}
RESPCT_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) { return rsync::MutexUnlock(m); }

// ---- rwlock ----

RESPCT_EXPORT int pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* a) { return rsync::RwlockInit(l, a); }
RESPCT_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t* l) { return rsync::RwlockDestroy(l); }
RESPCT_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t* l) { return rsync::RwlockRdlock(l); }
RESPCT_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) { return rsync::RwlockTryrdlock(l); }
RESPCT_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t* l, const timespec* t) {
  return rsync::RwlockTimedrdlock(l, t);
}
RESPCT_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t c, const timespec* t) {
  return rsync::RwlockClockrdlock(l, c, t);
}
RESPCT_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t* l) { return rsync::RwlockWrlock(l); }
RESPCT_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t* l) { return rsync::RwlockTrywrlock(l); }
RESPCT_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t* l, const timespec* t) {
  return rsync::RwlockTimedwrlock(l, t);
}
RESPCT_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t c, const timespec* t) {
  return rsync::RwlockClockwrlock(l, c, t);
}
RESPCT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* l) { return rsync::RwlockUnlock(l); }

// ---- condition variables ----

RESPCT_EXPORT int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* a) { return rsync::CondInit(c, a); }
RESPCT_EXPORT int pthread_cond_destroy(pthread_cond_t* c) { return rsync::CondDestroy(c); }
RESPCT_EXPORT int pthread_cond_signal(pthread_cond_t* c) { return rsync::CondSignal(c); }
RESPCT_EXPORT int pthread_cond_broadcast(pthread_cond_t* c) { return rsync::CondBroadcast(c); }
RESPCT_EXPORT int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) { return rsync::CondWait(c, m); }
RESPCT_EXPORT int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const timespec* t) {
  return rsync::CondTimedwait(c, m, t);
}
RESPCT_EXPORT int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t k, const timespec* t) {
  return rsync::CondClockwait(c, m, k, t);
}

// ---- spin locks and barriers ----

RESPCT_EXPORT int pthread_spin_init(pthread_spinlock_t* l, int shared) { return rsync::SpinInit(l, shared); }
RESPCT_EXPORT int pthread_spin_destroy(pthread_spinlock_t* l) { return rsync::SpinDestroy(l); }
RESPCT_EXPORT int pthread_spin_lock(pthread_spinlock_t* l) { return rsync::SpinLock(l); }
RESPCT_EXPORT int pthread_spin_trylock(pthread_spinlock_t* l) { return rsync::SpinTrylock(l); }
RESPCT_EXPORT int pthread_spin_unlock(pthread_spinlock_t* l) { return rsync::SpinUnlock(l); }
RESPCT_EXPORT int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* a, unsigned n) {
  return rsync::BarrierInit(b, a, n);
}
RESPCT_EXPORT int pthread_barrier_destroy(pthread_barrier_t* b) { return rsync::BarrierDestroy(b); }
RESPCT_EXPORT int pthread_barrier_wait(pthread_barrier_t* b) { return rsync::BarrierWait(b); }
