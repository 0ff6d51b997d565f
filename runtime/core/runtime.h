// Runtime: one per process, the object the preload layer calls into. It maps
// the persisted regions, connects to the memnode, runs application threads on
// persisted stacks with a slot in the thread table, and drives epochs
// (EpochCoordinator → Checkpointer → Replicator) until exit, where it takes a
// final checkpoint.
//
// Life cycle (preload/start.cc):
//   __libc_start_main wrapper → Runtime::Start (before the executable's
//   constructors, so their allocations are persisted) → RunMain: main runs on
//   thread slot 0 with a persisted stack; the process's original thread waits
//   for it → exit → Shutdown (atexit): final epoch, statistics.
// Forked children run on without respct (DisableInChild): they keep their copy
// of the heap, take no checkpoints and ship nothing.
//
// Runtime is the composition root; its methods live where their concern is:
// runtime.cc (start-up, regions, memnode connection, checkpoint wiring,
// exit), runtime_threads.cc (the thread lifecycle on table slots),
// runtime_resume.cc (a recovery's resume), and the statistics' text and JSON
// in runtime_stats.cc.
#pragma once

#include <pthread.h>

#include <atomic>
#include <memory>

#include "runtime/base/status.h"
#include "runtime/core/checkpointer.h"
#include "runtime/base/clock.h"
#include "runtime/core/config.h"
#include "runtime/core/epoch_coordinator.h"
#include "runtime/core/loaded_program.h"
#include "runtime/core/recovery.h"
#include "runtime/core/replicator.h"
#include "runtime/core/runtime_stats.h"
#include "runtime/core/stall_report.h"
#include "runtime/core/thread_registry.h"
#include "runtime/kernel/kernel_objects.h"
#include "runtime/core/held_output.h"

namespace respct::core {

class Runtime {
 public:
  // The running instance, or null (not started, disabled, forked child).
  static Runtime* Active() { return g_active.load(std::memory_order_acquire); }

  // Brings respct up in this process; on failure nothing is left mapped that
  // the application could notice, and the caller refuses to start the program.
  static Status Start(const RuntimeConfig& config, LoadedProgram program);

  // main(argc, argv, envp) on a persisted thread; returns its exit value.
  int RunMain(int (*main)(int, char**, char**), int argc, char** argv, char** envp);
  // Recovery mode (started with RESPCT_RECOVER): restores the image and
  // resumes every thread of it, main's included, instead of calling main;
  // returns main's exit value. See recovery.h.
  bool recovering() const { return recovery_ != nullptr; }
  int ResumeMain();

  // pthread_create: slot, persisted stack, trampoline. Returns an errno value.
  int CreateThread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg);
  // The calling application thread is ending (return or pthread_exit).
  void ThreadExiting(void* retval);
  // pthread_join / pthread_detach bookkeeping around the real calls.
  void ThreadJoined(pthread_t thread);
  void ThreadDetached(pthread_t thread);
  // pthread_setname_np: the name goes into the thread's slot.
  void ThreadNamed(pthread_t thread, const char* name);

  // Final checkpoint, statistics, stop (atexit; idempotent).
  void Shutdown();
  // fork() child: respct off, the heap kept.
  static void DisableInChild();

  // Coordinator thread, between epochs: the kernel-object census and the
  // stall warnings.
  void OnTick() {
    const uint64_t now = MonotonicNs();
    if (kernel_ != nullptr) kernel_->MaybeCensus(now);
    if (stall_ != nullptr) stall_->MaybeWarn(now);
  }
  // The signals whose dispositions are the runtime's (the stop signal,
  // SIGSEGV for the mprotect tracker, SIGUSR2 for --stats).
  const std::vector<int>& own_signals() const { return own_signals_; }

  const RuntimeConfig& config() const { return config_; }
  ThreadRegistry& registry() { return *registry_; }
  RuntimeStats& stats() { return stats_; }

 private:
  Runtime(const RuntimeConfig& config, LoadedProgram program) : config_(config), program_(std::move(program)) {}
  Status MapRegions();
  Status RecordLibraryStartup();
  // The kernel-object layer of a fresh run, or the image's of a recovery
  // (recreated in ResumeMain).
  Status StartKernelObjects();
  Status Connect();
  Status StartCheckpointing();
  void InitMetaHeader();
  void FillIdentity();
  // CreateThread with extra slot flags (kSlotMain).
  int StartThread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg, uint32_t flags);
  // Starts a thread on slot i's stack (detached if the slot says so); `attr`
  // supplies scheduling parameters when not null. Returns an errno value.
  int SpawnOnSlot(uint32_t i, const pthread_attr_t* attr, void* (*entry)(void*), pthread_t* thread);
  void ResumeThreads(pthread_t* main_thread);
  void RecreateKernelObjects();
  void ReadyAndWaitForRelease();
  static void RestoreThreadAttributes(const ThreadSlot& s);
  [[noreturn]] void FailRecovery(const std::string& why);
  void ReapDetachedSlots();
  int SlotOf(pthread_t thread);
  void FinalCheckpoint();
  int RemainingExitWaitMs() const;
  void EmitStats();
  static void* ThreadTrampoline(void* slot_index);
  static void* ResumeTrampoline(void* slot_index);
  static void RestoreOnFiber(void* slot);
  static void* ExitedTrampoline(void* slot_index);

  static std::atomic<Runtime*> g_active;

  RuntimeConfig config_;
  LoadedProgram program_;
  MetaHeader* meta_ = nullptr;
  std::unique_ptr<SlotControl[]> controls_;
  std::unique_ptr<ThreadRegistry> registry_;
  std::vector<RegionMapping> regions_;
  // A recovery's: this process's library data as the runtime came up (what
  // the libraries' constructors made of it), one per library_globals entry.
  std::vector<std::vector<uint8_t>> library_startup_;
  RuntimeStats stats_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<EpochCoordinator> coordinator_;
  std::unique_ptr<Recovery> recovery_;
  std::unique_ptr<kernel::KernelObjects> kernel_;
  std::unique_ptr<HeldOutput> held_output_;  // null: output commit off
  std::unique_ptr<StallReport> stall_;
  std::vector<int> own_signals_;
  // A recovery's threads: how many are recreated and restored, and whether
  // they may run (futex words; release_ is 1 outside a recovery).
  std::atomic<uint32_t> ready_{0};
  std::atomic<uint32_t> release_{1};
  std::atomic<bool> shut_down_{false};
  // How long exit may wait for an unreachable memnode, in all.
  static constexpr int kExitWaitMs = 5000;
  uint64_t exit_deadline_ns_ = 0;
};

}  // namespace respct::core
