// The epoch coordinator's quiescence logic with real threads: parking at
// restart points, by the stop signal, while blocked, frozen starters, and the
// abandoned round when a thread holds a lock too long.
#include "runtime/core/epoch_coordinator.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/core/current_thread.h"
#include "runtime/core/thread_registry.h"
#include "runtime/sync/lock_depth.h"

namespace respct::core {
namespace {

constexpr uint32_t kSlots = 16;

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
  void MakeCoordinator(int quiesce_timeout_ms) {
    coord_.reset();
    CoordinatorOptions o;
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
      EpochCoordinator::EnterRunning(&s);
      entered_.fetch_add(1);
      body();
      s.state_ref().store(kSlotExited);
      ReleaseParkFiber();
      t_current.slot = nullptr;
    });
    while (entered_.load() == before) std::this_thread::yield();
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
        EpochCoordinator::ParkIfRequested(kParkRestartPoint);
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
      EXPECT_TRUE(EpochCoordinator::RunBlocking(&req));
      progress_.fetch_add(1);
      EpochCoordinator::ParkIfRequested(kParkRestartPoint);
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

TEST_F(CoordinatorTest, AbandonsWhileALockIsHeldThenRecovers) {
  MakeCoordinator(100);
  std::atomic<bool> holding{true}, inside{false};
  Spawn([&] {
    sync::SetLockDepth(1);  // as if it held a mutex and spun on a flag
    inside = true;
    while (holding) progress_.fetch_add(1, std::memory_order_relaxed);
    sync::SetLockDepth(0);
    while (!stop_) {
      progress_.fetch_add(1);
      EpochCoordinator::ParkIfRequested(kParkRestartPoint);
    }
  });
  while (!inside) std::this_thread::yield();
  RoundResult r = coord_->RunRound(1);
  EXPECT_EQ(r.outcome, RoundResult::kAbandoned);
  EXPECT_GE(r.quiesce_ns, 100'000'000u);
  // The application went on: abandoning released it.
  const uint64_t p = progress_.load();
  while (progress_.load() == p) std::this_thread::yield();
  holding = false;
  EXPECT_EQ(coord_->RunRound(2).outcome, RoundResult::kCaptured);
  EXPECT_EQ(client_->captured, 1);
}

TEST_F(CoordinatorTest, ReservedButUnstartedSlotIsFrozenNotWaitedFor) {
  auto idx = registry_->Reserve(0x1234, 0x5678, 0);
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(coord_->RunRound(1).outcome, RoundResult::kCaptured);
  // Released back to kStarting, so its thread can still enter.
  EXPECT_EQ(registry_->slot(*idx).load_state(), kSlotStarting);
  EpochCoordinator::EnterRunning(&registry_->slot(*idx));
  EXPECT_EQ(registry_->slot(*idx).load_state(), kSlotRunning);
  registry_->Free(*idx);
}

TEST_F(CoordinatorTest, PeriodicThreadTakesEpochs) {
  Spawn([this] {
    while (!stop_) {
      progress_.fetch_add(1);
      EpochCoordinator::ParkIfRequested(kParkRestartPoint);
    }
  });
  ASSERT_TRUE(coord_->Start(1).ok());
  while (client_->captured < 10) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  coord_->Stop();
  EXPECT_GE(coord_->next_epoch(), 11u);
  EXPECT_EQ(client_->moved_during_capture, 0);
}

}  // namespace
}  // namespace respct::core
