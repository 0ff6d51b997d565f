// Memory beyond the malloc heap, kept across kill -9 (runtime/core/
// anonymous_maps.h): mmap_prog's own mappings (pieces left by munmap, a
// mapping moved by mremap, a range given back with MADV_DONTNEED, the program
// break) and CPython's object arenas, which it maps itself. Each program
// checks its memory at every round, so a page lost or stale after a recovery
// fails it; each is killed, recovered, killed again and recovered to the end.
// And a shared library's own data (libstate.so's counters), restored where
// the program changed it and left to the new process's start-up elsewhere.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

class MemoryTest : public testing::TestWithParam<const char*> {};

TEST_P(MemoryTest, MappedMemorySurvivesTwoKills) {
  // About 3 s natively on this kind of machine.
  SurvivesTwoKills(GetParam(), "mmap", {MMAP_PROG, "3", "20000"}, "mmap_prog: total=60000 ok");
}

TEST_P(MemoryTest, SharedLibraryDataSurvivesTwoKills) {
  SurvivesTwoKills(GetParam(), "libstate", {LIBSTATE_PROG, "2", "40000"}, "libstate_prog: total=80000 ok");
}

// Not memory but the same harness: threads that keep calling setgid (which
// glibc runs across every thread, holding its own locks) are never parked
// inside it, so each recovered run goes on.
TEST_P(MemoryTest, ThreadsCallingSetgidSurviveTwoKills) {
  SurvivesTwoKills(GetParam(), "setxid", {SETXID_PROG, "3", "15000"}, "setxid_prog: total=45000 ok");
}

TEST_P(MemoryTest, PythonThreadsSurviveTwoKills) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  SurvivesTwoKills(GetParam(), "python", {"/usr/bin/python3", THREADS_COUNT_PY, "2500"},
                   "threads_count: total=5000 ok");
}

INSTANTIATE_TEST_SUITE_P(Transports, MemoryTest, testing::Values("shm", "tcp"),
                         [](const testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

}  // namespace
}  // namespace respct::shimtest
