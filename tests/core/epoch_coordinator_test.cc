// The epoch coordinator's quiescence logic with real threads: parking at
// restart points, by the stop signal (holding locks too), while blocked,
// frozen starters, and the abandoned round when a thread stays where it may
// not park, with the straggler it names.
#include "runtime/core/epoch_coordinator.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/core/current_thread.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/thread_registry.h"
#include "runtime/sync/lock_depth.h"

namespace respct::core {
namespace {

constexpr uint32_t kSlots = 16;

// Every wait of these tests is bounded: a thread that never gets where it
// is awaited fails the test instead of hanging it.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::seconds bound = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Records what it saw during each capture.
class ProbeClient : public CheckpointClient {
 public:
  explicit ProbeClient(ThreadRegistry* reg, std::atomic<uint64_t>* progress) : reg_(reg), progress_(progress) {}
  bool ReadyForCheckpoint() override { return true; }
  bool CaptureQuiescent(uint64_t epoch) override {
    // Nothing the threads do may change while they are parked.
    const uint64_t before = progress_->load();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    if (progress_->load() != before) moved_during_capture++;
    for (uint32_t i = 0; i < kSlots; ++i) {
      ThreadSlot& s = reg_->slot(i);
      const SlotState st = s.load_state();
      if (st == kSlotParked || st == kSlotFrozen) {
        if (s.fctx == 0) missing_context++;
        if (st == kSlotParked && s.parked_epoch != epoch) wrong_epoch++;
        if (s.fctx < s.stack_lo || s.fctx >= s.stack_hi) context_off_stack++;
      }
      if (st == kSlotRunning || st == kSlotStarting || st == kSlotBlocked) running_in_capture++;
    }
    captured++;
    return true;
  }
  void AfterRelease(uint64_t, const RoundResult&) override {}
  void Abandoned(uint64_t, const RoundResult&) override { abandoned++; }

  std::atomic<int> abandoned{0};
  std::atomic<int> captured{0}, moved_during_capture{0}, missing_context{0}, wrong_epoch{0}, running_in_capture{0},
      context_off_stack{0};

 private:
  ThreadRegistry* reg_;
  std::atomic<uint64_t>* progress_;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    slots_.reset(new ThreadSlot[kSlots]());
    controls_.reset(new SlotControl[kSlots]);
    registry_ = std::make_unique<ThreadRegistry>(slots_.get(), controls_.get(), kSlots);
    client_ = std::make_unique<ProbeClient>(registry_.get(), &progress_);
    // Generous: on a loaded 2-core machine a runnable thread may wait many
    // milliseconds for a CPU, and only the abandon test wants a round to fail.
    MakeCoordinator(10'000);
  }
  void MakeCoordinator(int quiesce_timeout_ms, CodeOwner (*code_owner)(uintptr_t) = nullptr) {
    coord_.reset();
    CoordinatorOptions o;
    o.code_owner = code_owner;
    o.epoch_ms = 5;
    o.quiesce_timeout_ms = quiesce_timeout_ms;
    coord_ = std::make_unique<EpochCoordinator>(registry_.get(), client_.get(), o);
    ASSERT_TRUE(coord_->Install().ok());
  }
  void TearDown() override {
    stop_ = true;
    for (auto& t : threads_) t.join();
    coord_.reset();
  }

  // Starts an application-like thread running `body` in slot it reserves,
  // and returns once it is RUNNING: on a loaded machine a new thread may not
  // be scheduled for a while, and a round before that would have nothing to
  // stop (StopsComputeThreadsWithTheSignal once saw 30 rounds, 0 signals).
  template <typename Body>
  void Spawn(Body body) {
    const int before = entered_.load();
    auto idx = registry_->Reserve(0, 0, 0);
    ASSERT_TRUE(idx.ok());
    const uint32_t i = *idx;
    threads_.emplace_back([this, i, body] {
      ThreadSlot& s = registry_->slot(i);
      char probe;
      // The test threads' own stacks stand in for the persisted stacks.
      s.stack_hi = reinterpret_cast<uint64_t>(&probe) + 4096;
      s.stack_lo = s.stack_hi - (8u << 20);
      t_current.slot = &s;
      t_current.index = i;
      if (!PrepareParkFiber().ok()) {
        ADD_FAILURE() << "PrepareParkFiber failed";
        entered_.fetch_add(1);  // Spawn must not wait for it forever
        return;
      }
      registry_->control(i).tid.store(static_cast<int32_t>(syscall(SYS_gettid)));
      RestartPoint::EnterRunning(&s);
      entered_.fetch_add(1);
      body();
      s.state_ref().store(kSlotExited);
      ReleaseParkFiber();
      t_current.slot = nullptr;
    });
    ASSERT_TRUE(Eventually([&] { return entered_.load() != before; })) << "the spawned thread never ran";
  }

  std::unique_ptr<ThreadSlot[]> slots_;
  std::unique_ptr<SlotControl[]> controls_;
  std::unique_ptr<ThreadRegistry> registry_;
  std::unique_ptr<ProbeClient> client_;
  std::unique_ptr<EpochCoordinator> coord_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> progress_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> entered_{0};  // threads that reached EnterRunning
};

TEST_F(CoordinatorTest, ParksThreadsAtRestartPoints) {
  for (int t = 0; t < 3; ++t) {
    Spawn([this] {
      while (!stop_) {
        progress_.fetch_add(1);
        RestartPoint::Pass();
      }
    });
  }
  int captured = 0;
  for (uint64_t e = 1; e <= 50; ++e) captured += coord_->RunRound(e).outcome == RoundResult::kCaptured;
  EXPECT_EQ(captured, 50);
  EXPECT_EQ(client_->moved_during_capture, 0);
  EXPECT_EQ(client_->missing_context, 0);
  EXPECT_EQ(client_->wrong_epoch, 0);
  EXPECT_EQ(client_->running_in_capture, 0);
  EXPECT_EQ(client_->context_off_stack, 0);
}

TEST_F(CoordinatorTest, StopsComputeThreadsWithTheSignal) {
  // No restart point ever: only the stop signal can park these.
  for (int t = 0; t < 2; ++t) {
    Spawn([this] {
      while (!stop_) progress_.fetch_add(1, std::memory_order_relaxed);
    });
  }
  int captured = 0;
  uint32_t signals = 0;
  for (uint64_t e = 1; e <= 30; ++e) {
    RoundResult r = coord_->RunRound(e);
    captured += r.outcome == RoundResult::kCaptured;
    signals += r.signals_sent;
  }
  EXPECT_EQ(captured, 30);
  EXPECT_GE(signals, 30u);
  EXPECT_EQ(client_->moved_during_capture, 0);
  EXPECT_EQ(client_->missing_context, 0);
}

TEST_F(CoordinatorTest, BlockedThreadsAreQuiescentAndHeldIfTheyWake) {
  Spawn([this] {
    while (!stop_) {
      FiberRequest req{FiberRequest::kBlocking, 0, [](void*) -> long { return usleep(2000); }, nullptr};
      EXPECT_TRUE(RestartPoint::RunOnFiber(&req));
      progress_.fetch_add(1);
      RestartPoint::Pass();
    }
  });
  int captured = 0;
  for (uint64_t e = 1; e <= 30; ++e) captured += coord_->RunRound(e).outcome == RoundResult::kCaptured;
  EXPECT_EQ(captured, 30);
  // The capture sleeps 3 ms, longer than the 2 ms sleep: a thread waking
  // inside a capture must wait, not advance.
  EXPECT_EQ(client_->moved_during_capture, 0);
  EXPECT_EQ(client_->missing_context, 0);
}

TEST_F(CoordinatorTest, ParksComputeThreadsHoldingLocks) {
  // Lock depth is not a condition: a thread spinning with a lock held (as
  // redis holds its module GIL for its whole life) is stopped where it is.
  Spawn([this] {
    sync::SetLockDepth(2);
    while (!stop_) progress_.fetch_add(1, std::memory_order_relaxed);
    sync::SetLockDepth(0);
  });
  int captured = 0;
  for (uint64_t e = 1; e <= 20; ++e) captured += coord_->RunRound(e).outcome == RoundResult::kCaptured;
  EXPECT_EQ(captured, 20);
  EXPECT_EQ(client_->moved_during_capture, 0);
}

TEST_F(CoordinatorTest, AbandonsWhileAThreadCannotParkThenRecovers) {
  MakeCoordinator(100);
  std::atomic<bool> holding{true}, inside{false};
  int slot = -1;
  Spawn([&] {
    slot = static_cast<int>(t_current.index);
    t_current.in_runtime = 1;  // as if it ran respct code all along
    inside = true;
    while (holding) progress_.fetch_add(1, std::memory_order_relaxed);
    t_current.in_runtime = 0;
    while (!stop_) {
      progress_.fetch_add(1);
      RestartPoint::Pass();
    }
  });
  ASSERT_TRUE(Eventually([&] { return inside.load(); }));
  RoundResult r = coord_->RunRound(1);
  EXPECT_EQ(r.outcome, RoundResult::kAbandoned);
  EXPECT_GE(r.quiesce_ns, 100'000'000u);
  // The straggler is named, with what its stop-signal handler saw.
  EXPECT_EQ(r.straggler.slot, slot);
  EXPECT_EQ(r.straggler.state, kSlotRunning);
  EXPECT_GE(r.straggler.signals_sent, 1u);
  EXPECT_GE(r.straggler.signals_answered, 1u);
  EXPECT_EQ(r.straggler.refusal, kRefusalInRuntime);
  EXPECT_NE(r.straggler.pc, 0u);
  // The application went on: abandoning released it.
  const uint64_t p = progress_.load();
  ASSERT_TRUE(Eventually([&] { return progress_.load() != p; })) << "the application stayed stopped";
  holding = false;
  EXPECT_EQ(coord_->RunRound(2).outcome, RoundResult::kCaptured);
  EXPECT_EQ(client_->captured, 1);
}

// A program signal handler that interrupted code where the thread may not
// park (here: code the owner map says is librespct's, as the heap's inline
// fast path is) must not park in a blocking call it makes either: the image
// would hold the half-done state it interrupted. So while the handler's
// write()-like call runs, a round cannot capture this thread and is
// abandoned, naming why. (A Blocking() that parked from such a handler let
// the round capture.)
std::atomic<bool> g_code_is_shim{false};
CodeOwner ShimWhileFlagged(uintptr_t) { return g_code_is_shim ? CodeOwner::kShim : CodeOwner::kProgram; }
std::atomic<bool> g_in_handler_call{false}, g_round_over{false};
void HandlerThatBlocks(int, siginfo_t*, void* uc) {
  const bool unsafe = RestartPoint::EnterProgramHandler(static_cast<const ucontext_t*>(uc));
  RestartPoint::Blocking([] {
    g_in_handler_call = true;
    Eventually([] { return g_round_over.load(); });
    return 0;
  });
  RestartPoint::LeaveProgramHandler(unsafe);
}

TEST_F(CoordinatorTest, AHandlerThatInterruptedUnparkableCodeDoesNotParkInItsBlockingCalls) {
  MakeCoordinator(100, ShimWhileFlagged);
  struct sigaction sa {};
  sa.sa_sigaction = HandlerThatBlocks;
  sa.sa_flags = SA_SIGINFO;
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  g_in_handler_call = false;
  g_round_over = false;
  Spawn([&] {
    g_code_is_shim = true;  // from here the thread "runs librespct code"
    pthread_kill(pthread_self(), SIGUSR2);
    g_code_is_shim = false;
    while (!stop_) RestartPoint::Pass();
  });
  ASSERT_TRUE(Eventually([] { return g_in_handler_call.load(); })) << "the handler never ran";
  const RoundResult r = coord_->RunRound(1);
  g_round_over = true;
  EXPECT_EQ(r.outcome, RoundResult::kAbandoned) << "captured a thread inside a handler of unparkable code";
  // Why, when the stop signal reached the handler (ThreadSanitizer defers
  // signals to its own safe points, so there it may not have).
  if (r.straggler.signals_answered > 0) {
    EXPECT_EQ(r.straggler.refusal, kRefusalUnsafeHandler) << StopRefusalName(r.straggler.refusal);
  }
  EXPECT_EQ(client_->captured, 0);
  // Out of the handler, the thread parks again.
  EXPECT_EQ(coord_->RunRound(2).outcome, RoundResult::kCaptured);
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  sigaction(SIGUSR2, &old, nullptr);
}

TEST_F(CoordinatorTest, PeriodicRoundsBackOffWhileAThreadCannotPark) {
  MakeCoordinator(5);
  std::atomic<bool> holding{true}, inside{false};
  Spawn([&] {
    t_current.in_runtime = 1;
    inside = true;
    while (holding) progress_.fetch_add(1, std::memory_order_relaxed);
    t_current.in_runtime = 0;
    while (!stop_) {
      progress_.fetch_add(1);
      RestartPoint::Pass();
    }
  });
  ASSERT_TRUE(Eventually([&] { return inside.load(); }));
  ASSERT_TRUE(coord_->Start(1).ok());
  // 5 ms intervals for 600 ms: 120 attempts without backoff. With it the
  // gaps grow 1, 2, 4, ... 64 intervals: at most ~12 attempts.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const int abandoned = client_->abandoned.load();
  holding = false;
  EXPECT_GE(abandoned, 3);
  EXPECT_LE(abandoned, 15);
  // Once the thread is reachable again, epochs resume (after the backoff).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (client_->captured < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  coord_->Stop();
  EXPECT_GE(client_->captured, 3);
}

TEST_F(CoordinatorTest, ReservedButUnstartedSlotIsFrozenNotWaitedFor) {
  auto idx = registry_->Reserve(0x1234, 0x5678, 0);
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(coord_->RunRound(1).outcome, RoundResult::kCaptured);
  // Released back to kStarting, so its thread can still enter.
  EXPECT_EQ(registry_->slot(*idx).load_state(), kSlotStarting);
  RestartPoint::EnterRunning(&registry_->slot(*idx));
  EXPECT_EQ(registry_->slot(*idx).load_state(), kSlotRunning);
  registry_->Free(*idx);
}

TEST_F(CoordinatorTest, PeriodicThreadTakesEpochs) {
  Spawn([this] {
    while (!stop_) {
      progress_.fetch_add(1);
      RestartPoint::Pass();
    }
  });
  ASSERT_TRUE(coord_->Start(1).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (client_->captured < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  coord_->Stop();
  EXPECT_GE(coord_->next_epoch(), 11u);
  EXPECT_EQ(client_->moved_during_capture, 0);
}

}  // namespace
}  // namespace respct::core
