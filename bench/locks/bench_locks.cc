// respct::sync versus glibc, lock/unlock pairs, in one run.
//
// This binary is not preloaded, so pthread_* below are glibc's. The respct
// side is called through out-of-line, non-IPA wrappers with the pthread
// signatures: exactly the shape of the preload layer's exported
// pthread_mutex_lock → respct::sync::MutexLock, so the comparison includes
// the call the application will really make (glibc's goes through the PLT).
//
//   bench_locks [--benchmark_repetitions=N ...]
// prints Google Benchmark's table, then one line per pair:
//   <case>  glibc <ns>  respct <ns>  ratio respct/glibc
// (per-iteration CPU time for the uncontended pairs, real time for the
// 2-thread contended ones; with repetitions, the median of the repetitions).
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "runtime/sync/sync.h"

namespace {

namespace rs = respct::sync;

// The preload layer's exported functions, as it will write them: calls the
// compiler may neither inline nor specialise (GCC's noipa). Clang has no
// noipa: built with it these are only noinline, so its interprocedural
// constant propagation may still see their arguments (figures from GCC).
#if __has_attribute(noipa)
#define RESPCT_EXPORT_SHAPE __attribute__((noinline, noipa))
#else
#define RESPCT_EXPORT_SHAPE __attribute__((noinline))
#endif
RESPCT_EXPORT_SHAPE int ShimMutexLock(pthread_mutex_t* m) { return rs::MutexLock(m); }
RESPCT_EXPORT_SHAPE int ShimMutexUnlock(pthread_mutex_t* m) { return rs::MutexUnlock(m); }
RESPCT_EXPORT_SHAPE int ShimRdlock(pthread_rwlock_t* l) { return rs::RwlockRdlock(l); }
RESPCT_EXPORT_SHAPE int ShimWrlock(pthread_rwlock_t* l) { return rs::RwlockWrlock(l); }
RESPCT_EXPORT_SHAPE int ShimRwUnlock(pthread_rwlock_t* l) { return rs::RwlockUnlock(l); }
RESPCT_EXPORT_SHAPE int ShimSpinLock(pthread_spinlock_t* l) { return rs::SpinLock(l); }
RESPCT_EXPORT_SHAPE int ShimSpinUnlock(pthread_spinlock_t* l) { return rs::SpinUnlock(l); }

template <typename Lock, typename Object>
void LockUnlockPair(benchmark::State& state, Object* object, Lock lock, Lock unlock) {
  for (auto _ : state) {
    lock(object);
    unlock(object);
    benchmark::ClobberMemory();
  }
}

void Glibc_Mutex(benchmark::State& state) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  LockUnlockPair(state, &mutex, pthread_mutex_lock, pthread_mutex_unlock);
}
void Respct_Mutex(benchmark::State& state) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  LockUnlockPair(state, &mutex, ShimMutexLock, ShimMutexUnlock);
}

void NoOpHook() { benchmark::ClobberMemory(); }

// The cost the runtime adds once it installs its restart-point hook: every
// lock from and unlock to depth 0 calls it (informational, no glibc pair).
void RespctWithHook_Mutex(benchmark::State& state) {
  rs::SafepointHooks hooks;
  hooks.restart_point = NoOpHook;
  rs::InstallSafepointHooks(hooks);
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  LockUnlockPair(state, &mutex, ShimMutexLock, ShimMutexUnlock);
  rs::InstallSafepointHooks({});
}

void Glibc_RwlockRead(benchmark::State& state) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  LockUnlockPair(state, &rwlock, pthread_rwlock_rdlock, pthread_rwlock_unlock);
}
void Respct_RwlockRead(benchmark::State& state) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  LockUnlockPair(state, &rwlock, ShimRdlock, ShimRwUnlock);
}

void Glibc_RwlockWrite(benchmark::State& state) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  LockUnlockPair(state, &rwlock, pthread_rwlock_wrlock, pthread_rwlock_unlock);
}
void Respct_RwlockWrite(benchmark::State& state) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  LockUnlockPair(state, &rwlock, ShimWrlock, ShimRwUnlock);
}

void Glibc_Spin(benchmark::State& state) {
  pthread_spinlock_t spin;
  pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);  // glibc x86-64: 1 is free
  LockUnlockPair(state, &spin, pthread_spin_lock, pthread_spin_unlock);
}
void Respct_Spin(benchmark::State& state) {
  pthread_spinlock_t spin;
  rs::SpinInit(&spin, PTHREAD_PROCESS_PRIVATE);
  LockUnlockPair(state, &spin, ShimSpinLock, ShimSpinUnlock);
}

// Two threads on one mutex with a short critical section.
pthread_mutex_t g_glibc_contended = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_respct_contended = PTHREAD_MUTEX_INITIALIZER;
long g_glibc_shared_counter = 0;
long g_respct_shared_counter = 0;

void Glibc_MutexContended2(benchmark::State& state) {
  for (auto _ : state) {
    pthread_mutex_lock(&g_glibc_contended);
    benchmark::DoNotOptimize(++g_glibc_shared_counter);
    pthread_mutex_unlock(&g_glibc_contended);
  }
}
void Respct_MutexContended2(benchmark::State& state) {
  for (auto _ : state) {
    ShimMutexLock(&g_respct_contended);
    benchmark::DoNotOptimize(++g_respct_shared_counter);
    ShimMutexUnlock(&g_respct_contended);
  }
}

BENCHMARK(Glibc_Mutex);
BENCHMARK(Respct_Mutex);
BENCHMARK(RespctWithHook_Mutex);
BENCHMARK(Glibc_RwlockRead);
BENCHMARK(Respct_RwlockRead);
BENCHMARK(Glibc_RwlockWrite);
BENCHMARK(Respct_RwlockWrite);
BENCHMARK(Glibc_Spin);
BENCHMARK(Respct_Spin);
BENCHMARK(Glibc_MutexContended2)->Threads(2)->UseRealTime();
BENCHMARK(Respct_MutexContended2)->Threads(2)->UseRealTime();

// Keeps each run's per-iteration real time so main can print the ratios.
class RatioCollector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.iterations == 0) continue;
      std::string name = run.run_name.function_name;
      // The machine is shared: CPU time is the stabler measure of a
      // single-threaded pair; the contended cases are registered with
      // UseRealTime, since waiting is their cost.
      bool real_time = !run.run_name.time_type.empty();
      times_[name].push_back(real_time ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime());
    }
  }

  void PrintRatios() const {
    std::printf("\n%-22s %12s %12s %10s\n", "case", "glibc ns", "respct ns", "respct/glibc");
    for (const auto& [name, glibc_times] : times_) {
      if (name.rfind("Glibc_", 0) != 0) continue;
      std::string which = name.substr(6);
      auto respct = times_.find("Respct_" + which);
      if (respct == times_.end()) continue;
      double glibc_ns = Median(glibc_times);
      double respct_ns = Median(respct->second);
      std::printf("%-22s %12.2f %12.2f %9.2fx\n", which.c_str(), glibc_ns, respct_ns, respct_ns / glibc_ns);
    }
  }

 private:
  static double Median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }
  std::map<std::string, std::vector<double>> times_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioCollector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
