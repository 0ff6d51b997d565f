// fork() under respct: the child runs without respct and keeps its copy of
// the heap (runtime/core/runtime.h, DisableInChild); the parent's heap, still
// persisted, is not affected by what the child does to its copy.
#include <string>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

TEST(Fork, ChildKeepsItsHeapParentUnchanged) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const ChildResult native = RunChild(dir.path(), "native", {FORK_PROG});
  ASSERT_EQ(native.exit_code, 0) << "the test program fails without respct" << native.Describe();

  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const ChildResult run =
      RunChild(dir.path(), "respct", RespctRun(mn.shm_url(), mn.secret_path(), UniqueApp("fork"), {}, {FORK_PROG}));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_NE(run.out.find("fork_prog: ok"), std::string::npos) << run.Describe();
}

}  // namespace
}  // namespace respct::shimtest
