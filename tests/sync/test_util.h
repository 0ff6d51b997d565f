// Helpers shared by the respct::sync tests.
#pragma once

#include <ctime>
#include <thread>

namespace respct::sync::testing {

// An absolute deadline `millis` from now on `clock`.
inline timespec DeadlineIn(clockid_t clock, long millis) {
  timespec now{};
  clock_gettime(clock, &now);
  now.tv_nsec += millis * 1'000'000;
  now.tv_sec += now.tv_nsec / 1'000'000'000;
  now.tv_nsec %= 1'000'000'000;
  return now;
}

// Runs `body` on another thread and returns its result: for calls that must
// come from a thread that does not own the lock.
template <typename Body>
auto OnOtherThread(Body body) {
  decltype(body()) result{};
  std::thread thread([&] { result = body(); });
  thread.join();
  return result;
}

}  // namespace respct::sync::testing
