// bench_malloc: small-object malloc/free throughput of the respct Heap against
// glibc malloc (this binary is not preloaded, so plain malloc is glibc's), in
// 1 and 2 threads, then the ratio respct/glibc of time per operation for each
// pattern of the same run (< 1: respct is faster).
//
// Fairness: the application reaches the respct heap through the preload
// layer's out-of-line malloc(), so the respct side is called through
// non-inlined wrappers here too, as glibc's malloc is called through the PLT.
// Every block is written once so neither allocator can skip touching memory
// and the compiler cannot drop a malloc/free pair.
//
//   bench_malloc [--benchmark_repetitions=N ...]   (any Google Benchmark flag)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/heap/heap.h"

namespace {

using respct::heap::Heap;

// Outside the range the heap unit tests use (0x2000'0000'0000 + k TiB, k < 64).
void* const kBenchHeapBase = reinterpret_cast<void*>(0x3000'0000'0000);
Heap* g_heap = nullptr;

__attribute__((noinline)) void* RespctMalloc(size_t n) { return g_heap->Malloc(n); }
__attribute__((noinline)) void RespctFree(void* p) { g_heap->Free(p); }
__attribute__((noinline)) void* GlibcMalloc(size_t n) { return std::malloc(n); }
__attribute__((noinline)) void GlibcFree(void* p) { std::free(p); }
// What the runtime does on its thread-exit path; glibc frees its tcache itself.
void RespctThreadExit() { g_heap->ReleaseThreadCache(); }
void GlibcThreadExit() {}

// Google Benchmark runs thread 0 of every benchmark on the main thread and
// starts the others afresh, so only those others exit afterwards.
void EndOfBenchmarkThread(const benchmark::State& state, void (*thread_exit_fn)()) {
  if (state.thread_index() != 0) thread_exit_fn();
}

struct Allocator {
  const char* name;
  void* (*malloc_fn)(size_t);
  void (*free_fn)(void*);
  void (*thread_exit_fn)();
};
constexpr Allocator kAllocators[] = {{"glibc", GlibcMalloc, GlibcFree, GlibcThreadExit},
                                     {"respct", RespctMalloc, RespctFree, RespctThreadExit}};

// 4096 request sizes, uniform in [lo, hi], the same sequence for everyone.
std::vector<size_t> SizeTable(size_t lo, size_t hi) {
  std::mt19937 rng(12345);
  std::vector<size_t> sizes(4096);
  for (size_t& s : sizes) s = lo + rng() % (hi - lo + 1);
  return sizes;
}

void Touch(void* p) {
  *static_cast<volatile char*>(p) = 1;
  benchmark::DoNotOptimize(p);
}

// malloc immediately followed by free.
void BM_Pair(benchmark::State& state, Allocator a, size_t lo, size_t hi) {
  const std::vector<size_t> sizes = SizeTable(lo, hi);
  size_t i = 0;
  for (auto _ : state) {
    void* p = a.malloc_fn(sizes[i++ & 4095]);
    Touch(p);
    a.free_fn(p);
  }
  EndOfBenchmarkThread(state, a.thread_exit_fn);
  state.SetItemsProcessed(state.iterations());
}

// `batch` mallocs, then frees in reverse (LIFO) or allocation (FIFO) order.
void BM_Batch(benchmark::State& state, Allocator a, size_t lo, size_t hi, bool fifo) {
  const std::vector<size_t> sizes = SizeTable(lo, hi);
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<void*> blocks(batch);
  size_t i = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < batch; ++k) {
      blocks[k] = a.malloc_fn(sizes[i++ & 4095]);
      Touch(blocks[k]);
    }
    if (fifo) {
      for (size_t k = 0; k < batch; ++k) a.free_fn(blocks[k]);
    } else {
      for (size_t k = batch; k-- > 0;) a.free_fn(blocks[k]);
    }
  }
  EndOfBenchmarkThread(state, a.thread_exit_fn);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}

// Keeps a pool of live blocks and replaces a random one per operation, so
// frees come in an order unrelated to allocation order.
void BM_RandomReplace(benchmark::State& state, Allocator a, size_t lo, size_t hi) {
  const std::vector<size_t> sizes = SizeTable(lo, hi);
  std::vector<void*> pool(1024);
  for (size_t k = 0; k < pool.size(); ++k) pool[k] = a.malloc_fn(sizes[k]);
  std::mt19937 rng(static_cast<unsigned>(state.thread_index()) + 1);
  std::vector<uint16_t> victims(8192);
  for (uint16_t& v : victims) v = static_cast<uint16_t>(rng() % pool.size());
  size_t i = 0;
  for (auto _ : state) {
    void*& slot = pool[victims[i & 8191]];
    a.free_fn(slot);
    slot = a.malloc_fn(sizes[i++ & 4095]);
    Touch(slot);
  }
  for (void* p : pool) a.free_fn(p);
  EndOfBenchmarkThread(state, a.thread_exit_fn);
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  for (const Allocator& a : kAllocators) {
    const std::string n = a.name;
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark((n + "/pair/64").c_str(), BM_Pair, a, 64, 64)
          ->Threads(threads)->UseRealTime();
      benchmark::RegisterBenchmark((n + "/pair/16-512").c_str(), BM_Pair, a, 16, 512)
          ->Threads(threads)->UseRealTime();
      benchmark::RegisterBenchmark((n + "/batch_lifo/16-512").c_str(), BM_Batch, a, 16, 512, false)
          ->Arg(100)->Arg(1000)->Threads(threads)->UseRealTime();
      benchmark::RegisterBenchmark((n + "/batch_fifo/16-512").c_str(), BM_Batch, a, 16, 512, true)
          ->Arg(100)->Arg(1000)->Threads(threads)->UseRealTime();
      benchmark::RegisterBenchmark((n + "/random_replace/16-512").c_str(), BM_RandomReplace, a, 16, 512)
          ->Threads(threads)->UseRealTime();
    }
  }
}

// Console output as usual, plus nanoseconds per item of every run, kept to
// print the respct/glibc ratio table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration && r.aggregate_name != "mean") continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end() || it->second.value <= 0) continue;
      const std::string name = r.benchmark_name();
      const size_t slash = name.find('/');
      std::string pattern = name.substr(slash + 1);
      if (r.run_type == Run::RT_Aggregate) pattern = pattern.substr(0, pattern.rfind('_'));
      // Aggregate throughput of all threads -> wall time per operation; CPU
      // time per iteration is also kept, because on a shared machine other
      // processes' load inflates wall time but not CPU time.
      Sample& sample = samples_[pattern][name.substr(0, slash)];
      sample.wall_ns_per_op = 1e9 / it->second.value;
      sample.cpu_per_iteration = r.GetAdjustedCPUTime();
    }
  }

  void PrintRatios() const {
    std::printf("\n%-48s %10s %10s %10s %10s\n", "pattern", "glibc ns", "respct ns",
                "wall ratio", "cpu ratio");
    for (const auto& [pattern, by_alloc] : samples_) {
      auto g = by_alloc.find("glibc");
      auto r = by_alloc.find("respct");
      if (g == by_alloc.end() || r == by_alloc.end()) continue;
      std::printf("%-48s %10.2f %10.2f %10.2f %10.2f\n", pattern.c_str(), g->second.wall_ns_per_op,
                  r->second.wall_ns_per_op, r->second.wall_ns_per_op / g->second.wall_ns_per_op,
                  r->second.cpu_per_iteration / g->second.cpu_per_iteration);
    }
    std::printf(
        "ns = wall time per malloc+free, all threads together; ratios = respct/glibc\n"
        "(wall: of that time; cpu: of CPU time per iteration); < 1 means respct is faster\n");
  }

 private:
  struct Sample {
    double wall_ns_per_op;
    double cpu_per_iteration;
  };
  std::map<std::string, std::map<std::string, Sample>> samples_;
};

}  // namespace

int main(int argc, char** argv) {
  respct::Result<Heap*> heap = Heap::Create(kBenchHeapBase, size_t{64} << 30);
  if (!heap.ok()) {
    std::fprintf(stderr, "bench_malloc: %s\n", heap.status().ToString().c_str());
    return 1;
  }
  g_heap = heap.value();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterAll();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
