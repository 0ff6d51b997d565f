// cpp_sync_prog: an ordinary C++20 program (libstdc++ only, nothing of respct)
// that reaches pthreads the way C++ programs do: through std::thread and the
// standard mutexes, condition variables and barriers, timed variants on both
// the steady clock (glibc's pthread_*_clock* functions) and the system clock
// (pthread_*_timed*). Each phase's result is independent of the interleaving,
// so the output is the same on every run; a violated invariant exits 3.
//
// Output: "cpp_sync: digest=<hex> queue=<n> timed=<n> shared=<n> rounds=<n> ok"
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
constexpr int kThreads = 4;

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0x100000001b3ull;
}

void Fail(const char* what) {
  std::fprintf(stderr, "cpp_sync: INVARIANT BROKEN: %s\n", what);
  std::exit(3);
}

// One producer, kThreads consumers on a bounded queue; consumers wait with
// wait_for (steady clock), the producer with wait_until (system clock). The
// sum of what was consumed does not depend on who consumed it.
uint64_t QueuePhase() {
  constexpr uint64_t kItems = 200000, kCapacity = 64;
  std::mutex mu;
  std::condition_variable not_empty, not_full;
  std::deque<uint64_t> queue;
  bool done = false;
  std::atomic<uint64_t> sum{0};
  std::vector<std::thread> consumers;
  for (int t = 0; t < kThreads; ++t) {
    consumers.emplace_back([&] {
      uint64_t local = 0;
      for (;;) {
        std::unique_lock<std::mutex> l(mu);
        while (queue.empty() && !done) not_empty.wait_for(l, 2ms);
        if (queue.empty()) break;
        local += queue.front();
        queue.pop_front();
        l.unlock();
        not_full.notify_one();
      }
      sum += local;
    });
  }
  for (uint64_t i = 1; i <= kItems; ++i) {
    std::unique_lock<std::mutex> l(mu);
    while (queue.size() >= kCapacity) not_full.wait_until(l, std::chrono::system_clock::now() + 2ms);
    queue.push_back(i * i % 1000003);
    l.unlock();
    not_empty.notify_one();
  }
  {
    std::lock_guard<std::mutex> l(mu);
    done = true;
  }
  not_empty.notify_all();
  for (std::thread& t : consumers) t.join();
  return sum;
}

// std::timed_mutex taken with try_lock_for (pthread_mutex_clocklock) and
// try_lock_until on the system clock (pthread_mutex_timedlock), and a
// std::recursive_mutex (static recursive initialiser) nested twice.
uint64_t TimedMutexPhase() {
  constexpr int kIncrements = 20000;
  std::timed_mutex mu;
  std::recursive_mutex rmu;
  uint64_t counter = 0, nested = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        const bool steady = (i + t) % 2 == 0;
        while (!(steady ? mu.try_lock_for(1ms) : mu.try_lock_until(std::chrono::system_clock::now() + 1ms))) {
        }
        ++counter;
        mu.unlock();
        if (i % 16 == 0) {
          std::lock_guard<std::recursive_mutex> outer(rmu);
          std::lock_guard<std::recursive_mutex> inner(rmu);
          ++nested;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (nested != uint64_t{kThreads} * ((kIncrements + 15) / 16)) Fail("recursive_mutex count");
  return counter;
}

// Writers keep two fields equal under std::shared_timed_mutex (try_lock_for,
// pthread_rwlock_clockwrlock); readers check them under try_lock_shared_for
// (clockrdlock), try_lock_shared_until on the system clock (timedrdlock) and
// a std::shared_mutex's lock_shared (rdlock).
uint64_t SharedMutexPhase() {
  constexpr int kWrites = 20000, kReads = 20000;
  std::shared_timed_mutex mu;
  std::shared_mutex plain;
  uint64_t a = 0, b = 0, plain_value = 0;
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (t < 2) {
        for (int i = 0; i < kWrites; ++i) {
          while (!mu.try_lock_for(1ms)) {
          }
          ++a;
          ++b;
          mu.unlock();
          std::unique_lock<std::shared_mutex> l(plain);
          ++plain_value;
        }
        return;
      }
      for (int i = 0; i < kReads; ++i) {
        const bool steady = i % 2 == 0;
        while (!(steady ? mu.try_lock_shared_for(1ms)
                        : mu.try_lock_shared_until(std::chrono::system_clock::now() + 1ms))) {
        }
        if (a != b) Fail("shared_timed_mutex readers saw a torn write");
        mu.unlock_shared();
        std::shared_lock<std::shared_mutex> l(plain);
        if (plain_value > uint64_t{2} * kWrites) Fail("shared_mutex value out of range");
        ++reads;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (a != b || plain_value != uint64_t{2} * kWrites) Fail("shared mutex totals");
  return a + reads;
}

// Rounds separated by a std::barrier whose completion step folds every
// thread's contribution into the digest in thread order.
uint64_t BarrierPhase(uint64_t* digest) {
  constexpr int kRounds = 2000;
  uint64_t slots[kThreads] = {};
  uint64_t rounds = 0;
  auto complete = [&]() noexcept {
    for (uint64_t s : slots) *digest = Mix(*digest, s);
    ++rounds;
  };
  std::barrier sync(kThreads, complete);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        slots[t] = Mix(static_cast<uint64_t>(t), static_cast<uint64_t>(r));
        sync.arrive_and_wait();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return rounds;
}

}  // namespace

int main() {
  const uint64_t queue = QueuePhase();
  const uint64_t timed = TimedMutexPhase();
  const uint64_t shared = SharedMutexPhase();
  uint64_t digest = Mix(Mix(Mix(0, queue), timed), shared);
  const uint64_t rounds = BarrierPhase(&digest);
  std::printf("cpp_sync: digest=%016llx queue=%llu timed=%llu shared=%llu rounds=%llu ok\n",
              static_cast<unsigned long long>(digest), static_cast<unsigned long long>(queue),
              static_cast<unsigned long long>(timed), static_cast<unsigned long long>(shared),
              static_cast<unsigned long long>(rounds));
  return 0;
}
