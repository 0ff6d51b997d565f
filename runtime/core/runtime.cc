#include "runtime/core/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/base/clock.h"
#include "runtime/base/exit_code.h"
#include "runtime/core/app_heap.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/libc_entry.h"
#include "runtime/core/anonymous_maps.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/park_fiber.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/program_streams.h"
#include "runtime/kernel/signals.h"
#include "runtime/core/shim_log.h"
#include "runtime/core/thread_keys.h"
#include "runtime/heap/page_heap.h"
#include "runtime/sync/futex.h"
#include "runtime/sync/lock_depth.h"
#include "runtime/sync/owner_id.h"
#include "runtime/sync/safepoint_hooks.h"
#include "runtime/transport/secret.h"

namespace respct::core {

std::atomic<Runtime*> Runtime::g_active{nullptr};

namespace {

std::atomic<bool> g_stats_requested{false};

// How long a new writer waits for the previous writer of its app, a process
// that may have just exited, to be seen gone (ConnectOptions::busy_wait_ms).
constexpr int kWriterHandoverMs = 2000;

// Maps [addr, addr+len) at exactly that address or fails: the persisted
// regions are only worth anything at their recorded addresses.
Status MapFixed(uintptr_t addr, size_t len, const char* what) {
  void* p = mmap(reinterpret_cast<void*>(addr), len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno(std::string("map the ") + what + " region", errno);
  if (reinterpret_cast<uintptr_t>(p) != addr) {
    munmap(p, len);
    return Status::FailedPrecondition(std::string("the ") + what + " region's address is taken");
  }
  return Status::OK();
}

// The executable's .data/.bss start as a private file mapping, which
// userfaultfd cannot write-protect; an anonymous mapping with the same bytes
// behaves identically for the program and can be tracked. Runs before any
// other thread exists.
Status MakeAnonymous(uintptr_t addr, size_t len) {
  void* tmp = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (tmp == MAP_FAILED) return Status::FromErrno("mmap (globals copy)", errno);
  std::memcpy(tmp, reinterpret_cast<void*>(addr), len);
  void* p = mmap(reinterpret_cast<void*>(addr), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    munmap(tmp, len);
    return Status::FromErrno("remap globals", err);
  }
  std::memcpy(reinterpret_cast<void*>(addr), tmp, len);
  munmap(tmp, len);
  return Status::OK();
}

void RestartPointHook() { RestartPoint::Park(kParkRestartPoint); }

void OnStatsSignal(int) { g_stats_requested.store(true, std::memory_order_relaxed); }

void OnCoordinatorTick() {
  if (Runtime* rt = Runtime::Active()) rt->OnTick();
  if (!g_stats_requested.exchange(false, std::memory_order_relaxed)) return;
  if (Runtime* rt = Runtime::Active()) {
    const std::string report = rt->stats().Report(rt->config().stats == StatsFormat::kJson, false, "");
    (void)!write(ShimLogFd(), report.data(), report.size());
  }
}

struct MainArgs {
  int (*main)(int, char**, char**);
  int argc;
  char** argv;
  char** envp;
};

void* MainThunk(void* p) {
  auto* a = static_cast<MainArgs*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(a->main(a->argc, a->argv, a->envp)));
}

// A copy of a NULL-terminated string vector in the persisted heap, so the
// recovered main still finds its arguments.
char** PersistStrings(heap::Heap* h, char** v) {
  size_t n = 0;
  while (v != nullptr && v[n] != nullptr) ++n;
  auto** out = static_cast<char**>(h->Calloc(n + 1, sizeof(char*)));
  for (size_t i = 0; i < n; ++i) {
    const size_t len = std::strlen(v[i]) + 1;
    out[i] = static_cast<char*>(h->Malloc(len));
    std::memcpy(out[i], v[i], len);
  }
  return out;
}

}  // namespace

Status Runtime::Start(const RuntimeConfig& config, LoadedProgram program) {
  RuntimeScope scope;
  SetShimLogLevel(config.log_level);
  auto* rt = new Runtime(config, std::move(program));
  if (!config.recover_image.empty()) {
    auto recovery = Recovery::Prepare(rt->config_, rt->program_, &rt->config_.layout);
    // The image was written for this process alone: consumed once mapped.
    unlink(config.recover_image.c_str());
    if (!recovery.ok()) return recovery.status();
    rt->recovery_ = std::move(recovery.value());
    // Before the runtime opens anything: the program's descriptor numbers are
    // held for it (kernel_objects.h).
    const RecoveryRegion* k = rt->recovery_->image().region(kKernelRegion);
    RESPCT_RETURN_IF_ERROR(kernel::KernelObjects::ReserveImageNumbers(
        k != nullptr ? rt->recovery_->image().bytes(*k) : nullptr, k != nullptr ? k->stored : 0));
    RESPCT_RETURN_IF_ERROR(rt->program_.FindProcessOwnedGlobals());
  }
  KeepShimLogFd();
  Status st = rt->MapRegions();
  if (st.ok()) st = rt->StartKernelObjects();
  if (st.ok()) st = rt->Connect();
  // A recovery starts checkpointing once the image is back in memory.
  if (st.ok() && !rt->recovering()) {
    rt->InitMetaHeader();
    st = rt->StartCheckpointing();
    // From here the program's anonymous mappings are persisted; the runtime's
    // code is known (StartCheckpointing), so its own mappings are not.
    if (st.ok()) AnonymousMaps::Install(AppHeap(), &rt->meta_->anonymous_maps, SystemMemoryCalls());
  }
  if (!st.ok()) return st;  // the process exits: nothing to unwind
  g_active.store(rt, std::memory_order_release);
  return Status::OK();
}

Status Runtime::MapRegions() {
  const Layout& l = config_.layout;
  RESPCT_RETURN_IF_ERROR(MapFixed(l.meta_base(), l.meta_size(), "meta"));
  RESPCT_RETURN_IF_ERROR(MapFixed(l.stacks_base(), l.stacks_size(), "stack"));
  RESPCT_RETURN_IF_ERROR(MapFixed(l.kernel_base(), kernel::KernelRegionBytes(), "kernel"));
  if (recovering()) {
    // Heap::Attach adopts it once the image is copied in.
    RESPCT_RETURN_IF_ERROR(MapFixed(l.heap_base(), l.heap_size, "heap"));
  } else {
    auto heap = heap::Heap::Create(reinterpret_cast<void*>(l.heap_base()), l.heap_size);
    if (!heap.ok()) return heap.status().Annotate("create the heap region");
    g_app_heap.store(heap.value(), std::memory_order_release);
  }
  if (program_.globals_size != 0) RESPCT_RETURN_IF_ERROR(MakeAnonymous(program_.globals_base, program_.globals_size));
  if (program_.library_globals.size() > kMaxLibraryGlobals) {
    std::string left;
    for (size_t i = kMaxLibraryGlobals; i < program_.library_globals.size(); ++i)
      left += " " + program_.library_globals[i].name;
    ShimLog(kLogWarn, "the data of %zu libraries is not persisted (at most %zu are):%s",
            program_.library_globals.size() - kMaxLibraryGlobals, kMaxLibraryGlobals, left.c_str());
    program_.library_globals.resize(kMaxLibraryGlobals);
  }
  for (const LibraryGlobals& lib : program_.library_globals) {
    ShimLog(kLogDebug, "persisting the data of %s (%zu KiB at %#lx)", lib.name.c_str(), lib.size >> 10, lib.base);
    RESPCT_RETURN_IF_ERROR(MakeAnonymous(lib.base, lib.size).Annotate(lib.name));
  }

  meta_ = MetaAt(l.meta_base());
  RESPCT_RETURN_IF_ERROR(RecordLibraryStartup());
  // Thread-specific data moves into the meta region (a recovery's arrives
  // with the image).
  ThreadKeys::Attach(reinterpret_cast<void*>(l.meta_base() + MetaKeysOffset(l.max_threads)), l.max_threads,
                     recovering());
  controls_.reset(new SlotControl[l.max_threads]);
  registry_ = std::make_unique<ThreadRegistry>(SlotsAt(l.meta_base()), controls_.get(), l.max_threads);
  regions_ = {{kMetaRegion, l.meta_base(), l.meta_size()},
              {kHeapRegion, l.heap_base(), l.heap_size},
              {kStackRegion, l.stacks_base(), l.stacks_size()},
              {kKernelRegion, l.kernel_base(), kernel::KernelRegionBytes()}};
  if (program_.globals_size != 0) regions_.push_back({kGlobalsRegion, program_.globals_base, program_.globals_size});
  for (size_t i = 0; i < program_.library_globals.size(); ++i)
    regions_.push_back({static_cast<uint32_t>(kLibraryGlobalsFirstRegion + i), program_.library_globals[i].base,
                        program_.library_globals[i].size});
  return Status::OK();
}

// The libraries' data as the runtime comes up: in the persisted heap, named
// by the meta header, for a fresh run (the baseline a recovery compares the
// image with); aside, for a recovery (its own start-up state, which becomes
// the baseline once the image is restored).
Status Runtime::RecordLibraryStartup() {
  const std::vector<LibraryGlobals>& libs = program_.library_globals;
  if (recovering()) {
    for (const LibraryGlobals& lib : libs) {
      const auto* p = reinterpret_cast<const uint8_t*>(lib.base);
      library_startup_.emplace_back(p, p + lib.size);
    }
    return Status::OK();
  }
  meta_->library_globals_count = static_cast<uint32_t>(libs.size());
  for (size_t i = 0; i < libs.size(); ++i) {
    LibraryGlobalsEntry& e = meta_->library_globals[i];
    void* copy = AppHeap()->Malloc(libs[i].size);
    if (copy == nullptr) return Status::ResourceExhausted("no heap for the start-up copy of " + libs[i].name);
    std::memcpy(copy, reinterpret_cast<const void*>(libs[i].base), libs[i].size);
    e.base = libs[i].base;
    e.size = libs[i].size;
    e.baseline = reinterpret_cast<uintptr_t>(copy);
    std::strncpy(e.name, libs[i].name.c_str(), sizeof e.name - 1);
  }
  return Status::OK();
}

Status Runtime::StartKernelObjects() {
  const uintptr_t base = config_.layout.kernel_base();
  // A recovery's records arrive with the image (RestoreMemory); recording
  // starts once they are recreated.
  if (recovering()) {
    kernel_ = kernel::KernelObjects::AttachRestored(base);
  } else {
    kernel_ = kernel::KernelObjects::CreateFresh(base);
    kernel_->set_heap(AppHeap());
  }
  RESPCT_RETURN_IF_ERROR(kernel_->OpenScratchPipe());
  if (!recovering()) kernel::SetActiveKernel(kernel_.get());
  return Status::OK();
}

// The header's layout and identity (a recovery rewrites the same values).
void Runtime::InitMetaHeader() {
  const Layout& l = config_.layout;
  meta_->magic = kMetaMagic;
  meta_->version = kMetaVersion;
  meta_->max_threads = l.max_threads;
  meta_->base = l.base;
  meta_->heap_size = l.heap_size;
  meta_->stack_size = l.stack_size;
  meta_->globals_base = program_.globals_base;
  meta_->globals_size = program_.globals_size;
  meta_->slots_offset = MetaSlotsOffset();
  FillIdentity();
}

void Runtime::FillIdentity() {
  meta_->build_id_len = static_cast<uint32_t>(std::min<size_t>(program_.build_id.size(), sizeof meta_->build_id));
  std::memcpy(meta_->build_id, program_.build_id.data(), meta_->build_id_len);
  if (const auto* r = reinterpret_cast<const uint8_t*>(getauxval(AT_RANDOM))) std::memcpy(meta_->at_random, r, 16);
  meta_->tls_size = program_.tls_size;
  meta_->tls_align = program_.tls_align;
  std::strncpy(meta_->exe_path, program_.exe_path.c_str(), sizeof meta_->exe_path - 1);
  size_t n = 0;
  for (const LibraryInfo& lib : program_.libraries) {
    if (n == kMaxLibraries) break;
    meta_->libraries[n].load_addr = lib.load_addr;
    std::strncpy(meta_->libraries[n].name, lib.name.c_str(), sizeof meta_->libraries[n].name - 1);
    ++n;
  }
  meta_->library_count = static_cast<uint32_t>(n);
}

Status Runtime::Connect() {
  auto secret = Secret::FromFile(config_.secret_file);
  if (!secret.ok()) return secret.status().Annotate("memnode secret");
  ConnectOptions opts;
  opts.app = config_.app;
  opts.writer = true;
  opts.create = !recovering();
  opts.reset = config_.fresh && !recovering();
  opts.ring_capacity = config_.ring_size;
  opts.busy_wait_ms = kWriterHandoverMs;
  opts.take_over = recovering() && config_.take_over;
  for (const RegionMapping& r : regions_) opts.regions.push_back(RegionSpec{r.id, r.size, r.base});
  replicator_ = std::make_unique<Replicator>(config_.replicas, secret.value(), opts, regions_, &stats_);
  RESPCT_RETURN_IF_ERROR(replicator_->Connect().Annotate(config_.replicas.size() == 1 ? "memnode " + config_.memnode
                                                                                       : config_.replicas.ToString()));
  const uint64_t committed = replicator_->attach_info().committed_epoch;
  if (recovering()) {
    if (committed != recovery_->epoch())
      return Status::FailedPrecondition("the memnode's image of app '" + config_.app + "' is at epoch " +
                                        std::to_string(committed) + ", the recovery image at epoch " +
                                        std::to_string(recovery_->epoch()) +
                                        ": another process changed it since; fetch it again with respct-recover");
    return Status::OK();
  }
  if (committed != 0)
    return Status::FailedPrecondition("app '" + config_.app + "' already has an image at epoch " +
                                      std::to_string(committed) +
                                      " on the memnode: run respct-recover to resume it, or start with --fresh "
                                      "(RESPCT_FRESH=1) to discard it");
  return Status::OK();
}

Status Runtime::StartCheckpointing() {
  auto kind = dirty::ParseTrackerKind(config_.tracker);
  if (!kind.ok()) return kind.status().Annotate("RESPCT_TRACKER");
  Checkpointer::Options copt;
  copt.tracker = *kind;
  if (recovering()) copt.image = &recovery_->image();
  copt.granularity = config_.granularity;
  // The heap fills from its base (header, page tables, then data up to its
  // frontier); stack slots are handed out lowest first.
  copt.in_use.emplace_back(kHeapRegion, [] {
    heap::ByteRange parts[4];
    const unsigned n = AppHeap()->WrittenRanges(parts);
    size_t end = 0;
    for (unsigned i = 0; i < n; ++i) end = std::max(end, parts[i].begin + parts[i].length - AppHeap()->base());
    return end;
  });
  copt.in_use.emplace_back(kKernelRegion, [this] {
    return kernel::kKernelHeaderBytes + size_t(kernel_->table().highest() + 1) * kernel::kFdRecordBytes;
  });
  copt.kernel = kernel_.get();
  if (config_.output_commit) {
    held_output_ = std::make_unique<HeldOutput>(HeldOutputOptions{}, kernel_.get(), [this] {
      if (coordinator_ != nullptr) coordinator_->RequestRound();
    });
    copt.on_captured = [h = held_output_.get()](uint64_t epoch) { h->EpochCaptured(epoch); };
  }
  stall_ = std::make_unique<StallReport>(registry_->max_threads(), &stats_, MonotonicNs());
  copt.stall = stall_.get();
  copt.in_use.emplace_back(kStackRegion, [this] {
    uint32_t highest = 0;
    for (uint32_t i = 0; i < registry_->max_threads(); ++i)
      if (registry_->slot(i).load_state() != kSlotFree) highest = i + 1;
    return size_t{highest} * config_.layout.stack_size;
  });
  auto cp = Checkpointer::Create(copt, regions_, meta_, registry_.get(), replicator_.get(), &stats_);
  if (!cp.ok()) return cp.status();
  checkpointer_ = std::move(cp.value());
  // glibc registers each thread's rseq area, inside its TCB at the top of its
  // persisted stack; the kernel writes it on the way back to user space and,
  // finding the page write-protected by mprotect, kills the thread with
  // SIGSEGV (no fault a handler could fix). userfaultfd-wp and the scan
  // tracker let kernel writes through.
  if (checkpointer_->tracker_kind() == dirty::DirtyTracker::Kind::kMprotect && __rseq_size != 0)
    return Status::FailedPrecondition(
        "the mprotect dirty tracker needs glibc's rseq registration off: start the program with "
        "GLIBC_TUNABLES=glibc.pthread.rseq=0 (respct-run and respct-recover set it)");
  CoordinatorOptions o;
  o.epoch_ms = config_.epoch_ms;
  o.quiesce_timeout_ms = config_.quiesce_ms;
  o.code_owner = CodeOwnerAt;
  o.on_tick = OnCoordinatorTick;
  SetRuntimeCode(program_.runtime_code);
  coordinator_ = std::make_unique<EpochCoordinator>(registry_.get(), checkpointer_.get(), o);
  RESPCT_RETURN_IF_ERROR(coordinator_->Install());
  sync::SafepointHooks hooks;
  hooks.restart_point = RestartPointHook;
  hooks.blocking_wait = RestartPoint::FutexSleep;
  sync::InstallSafepointHooks(hooks);
  own_signals_ = {coordinator_->stop_signal()};
  if (checkpointer_->tracker_kind() == dirty::DirtyTracker::Kind::kMprotect) own_signals_.push_back(SIGSEGV);  // its write-fault handler
  if (config_.stats != StatsFormat::kOff) {
    signal(SIGUSR2, OnStatsSignal);
    own_signals_.push_back(SIGUSR2);
  }
  // The kernel's writes for the program, and the heap's own page releases
  // (writes of zeros no fault reports), go to the tracker the same way.
  constexpr auto kernel_will_write = [](void* addr, size_t len) {
    if (Runtime* rt = Active(); rt != nullptr && rt->checkpointer_ != nullptr)
      rt->checkpointer_->tracker()->KernelWillWrite(addr, len);
  };
  RestartPoint::SetKernelWillWriteHook(kernel_will_write);
  heap::PageHeap::SetReleaseObserver(kernel_will_write);
  if (held_output_ != nullptr) {
    replicator_->set_on_commit([this](uint64_t epoch, bool never) {
      if (never) {
        ShimLog(kLogWarn, "output is no longer held: no epoch can commit any more");
        held_output_->ReleaseEverything();
      } else {
        held_output_->Committed(epoch);
      }
      // A round on demand may be waiting for this commit.
      coordinator_->Nudge();
    });
    RESPCT_RETURN_IF_ERROR(held_output_->Start(replicator_->committed_epoch() + 1));
    SetActiveHeldOutput(held_output_.get());
  }
  // A newer writer of this app attached (this process was believed dead and
  // recovered elsewhere): nothing it does can commit any more, and held
  // output must never be released. It stops here, with one line; the
  // recovered run owns the image.
  replicator_->set_on_fenced([this](const Status& why) {
    ShimLog(kLogError,
            "app '%s' was taken over by a newer writer (a recovery of it?): %s. This process is fenced and exits; "
            "its work after epoch %llu is not kept",
            config_.app.c_str(), why.ToString().c_str(),
            static_cast<unsigned long long>(replicator_->committed_epoch()));
    _exit(kExitRespctFailure);
  });
  replicator_->Start();
  ShimLog(kLogInfo, "app '%s' on %s: tracker %s, epoch %d ms, %s granularity", config_.app.c_str(),
          config_.memnode.c_str(), std::string(checkpointer_->tracker_name()).c_str(), config_.epoch_ms,
          GranularityName(config_.granularity));
  return Status::OK();
}

int Runtime::RunMain(int (*main)(int, char**, char**), int argc, char** argv, char** envp) {
  MainArgs* args;
  {
    heap::Heap* h = AppHeap();
    args = static_cast<MainArgs*>(h->Malloc(sizeof(MainArgs)));
    *args = MainArgs{main, argc, PersistStrings(h, argv), PersistStrings(h, envp)};
  }
  pthread_t main_thread;
  const int rc = StartThread(&main_thread, nullptr, MainThunk, args, kSlotMain);
  if (rc != 0) {
    ShimLog(kLogError, "cannot start main on a persisted thread: %s", std::strerror(rc));
    _exit(kExitRespctFailure);
  }
  {
    RuntimeScope scope;
    (void)coordinator_->Start(replicator_->committed_epoch() + 1);
    // Signals for the program go to the program's threads (program_signals.h).
    BlockSignalsInRuntimeThread();
  }
  void* ret = nullptr;
  g_libc.pthread_join(main_thread, &ret);
  ThreadJoined(main_thread);
  return static_cast<int>(reinterpret_cast<intptr_t>(ret));
}

void Runtime::FinalCheckpoint() {
  RuntimeScope scope;
  // One epoch in flight at most, at exit too: the staging buffer of the
  // epoch being shipped must not be overwritten by the final capture.
  if (replicator_->failed()) return;
  if (!replicator_->WaitIdle(RemainingExitWaitMs())) {
    ShimLog(kLogWarn, "no final checkpoint: epoch %llu still not shipped (memnode %s unreachable)",
            static_cast<unsigned long long>(coordinator_->next_epoch() - 1), config_.memnode.c_str());
    return;
  }
  if (!config_.dump_dir.empty()) checkpointer_->DumpNextCapture(config_.dump_dir);
  checkpointer_->MarkFinalCapture();
  const uint64_t epoch = coordinator_->next_epoch();
  const RoundResult r = coordinator_->RunRound(epoch);
  if (r.outcome != RoundResult::kCaptured)
    ShimLog(kLogWarn, "final checkpoint abandoned (a thread could not be stopped at exit); the image keeps epoch %llu",
            static_cast<unsigned long long>(replicator_->committed_epoch()));
}

int Runtime::RemainingExitWaitMs() const {
  const int64_t left = static_cast<int64_t>(exit_deadline_ns_) - static_cast<int64_t>(MonotonicNs());
  return left <= 0 ? 0 : static_cast<int>(left / 1'000'000);
}

void Runtime::Shutdown() {
  if (shut_down_.exchange(true)) return;
  // One budget for everything the exit waits on: a lost memnode delays the
  // program's exit by at most this much, however many steps wait for it.
  exit_deadline_ns_ = MonotonicNs() + uint64_t(kExitWaitMs) * 1'000'000u;
  {
    RuntimeScope scope;
    coordinator_->Stop();
  }
  // Before the image is marked as a finished run (program_streams.h).
  FlushProgramStreams();
  if (RestartPoint::MayPark()) {
    // An application thread called exit(): it waits, quiescent, on its fiber
    // while the final round runs there.
    FiberRequest req{FiberRequest::kBlocking, 0,
                     [](void* rt) -> long {
                       static_cast<Runtime*>(rt)->FinalCheckpoint();
                       return 0;
                     },
                     this};
    RestartPoint::RunOnFiber(&req);
  } else {
    FinalCheckpoint();
  }
  RuntimeScope scope;
  if (!replicator_->failed() && !replicator_->WaitIdle(RemainingExitWaitMs()))
    ShimLog(kLogWarn, "last epoch not committed: memnode %s unreachable", config_.memnode.c_str());
  if (config_.test_kill_at_exit) raise(SIGKILL);
  if (held_output_ != nullptr) {
    // Committed, or never will be: the program is ending either way.
    held_output_->ReleaseEverything();
    held_output_->Stop(RemainingExitWaitMs());
  }
  replicator_->Stop(0);
  EmitStats();
}

void Runtime::EmitStats() {
  if (config_.stats == StatsFormat::kOff) return;
  const bool json = config_.stats == StatsFormat::kJson;
  HeldOutputStats output;
  if (held_output_ != nullptr) output = held_output_->Stats();
  RunSummary run{.app = config_.app,
                 .tracker = std::string(checkpointer_->tracker_name()),
                 .granularity = GranularityName(config_.granularity),
                 .epoch_ms = config_.epoch_ms,
                 .last_committed_epoch = replicator_->committed_epoch(),
                 .stalls_json = json ? stall_->Json() : std::string(),
                 .output = held_output_ != nullptr ? &output : nullptr,
                 .replicas = {},
                 .write_quorum = config_.replicas.write_quorum()};
  if (config_.replicas.size() > 1) {
    for (const Replicator::ReplicaStatus& r : replicator_->replicas())
      run.replicas.push_back({r.url, Replicator::StateName(r.state), r.committed_epoch, r.catch_ups, r.catch_up_bytes});
  }
  const std::string header = RunSummaryHeader(run, json);
  std::string report = stats_.Report(json, json, header);
  if (!json) {
    const std::string stalls = stall_->Text();
    if (!stalls.empty()) report += "  checkpoints held up by:\n" + stalls;
  }
  if (config_.stats_file.empty()) {
    (void)!write(ShimLogFd(), report.data(), report.size());
    return;
  }
  const int fd = open(config_.stats_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    ShimLog(kLogWarn, "stats file %s: %s", config_.stats_file.c_str(), std::strerror(errno));
    return;
  }
  (void)!write(fd, report.data(), report.size());
  close(fd);
}

void Runtime::DisableInChild() {
  Runtime* rt = g_active.exchange(nullptr);
  if (rt == nullptr) return;
  kernel::SetActiveKernel(nullptr);
  // What the parent holds is the parent's to send.
  SetActiveHeldOutput(nullptr);
  // The child's only thread is the one that forked; the coordinator and
  // replication threads did not come along. Nothing must try to park.
  sync::InstallSafepointHooks({});
  t_current.slot = nullptr;
}

}  // namespace respct::core
