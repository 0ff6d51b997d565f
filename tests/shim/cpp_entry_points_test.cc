// C++ programs reach pthreads through inline libstdc++ code (in the binary)
// and through libstdc++.so's own PLT (DESIGN §3). Two checks:
//   CppSync.SameOutputUnderRespct   cpp_sync_prog prints the same line natively
//                                   and under respct-run, which checkpointed.
//   CppSync.PthreadImportsInterposed  every pthread_* that cpp_sync_prog or
//                                   libstdc++.so.6 imports is exported by
//                                   librespct.so, or on the allow-list below.
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

TEST(CppSync, SameOutputUnderRespct) {
  // Under the mprotect tracker this found that a shared futex wait on a
  // read-only anonymous page fails with EFAULT (preload/futex_calls.cc): run
  // in both tracker configurations.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));

  const ChildResult native = RunChild(dir.path(), "native", {CPP_SYNC_PROG});
  ASSERT_EQ(native.exit_code, 0) << native.Describe();
  const auto expected = DigestLine("cpp_sync", native.out);
  ASSERT_TRUE(expected) << native.Describe();

  const std::string stats_file = dir / "stats.json";
  const ChildResult run =
      RunChild(dir.path(), "respct",
          RespctRun(mn.shm_url(), mn.secret_path(), UniqueApp("cpp_sync"), {"--stats=json", "--stats-file", stats_file},
                    {CPP_SYNC_PROG}));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_EQ(DigestLine("cpp_sync", run.out).value_or("(no digest line)"), *expected) << run.Describe();
  const std::string stats = ReadFile(stats_file);
  EXPECT_GE(JsonUint(stats, "epochs_committed").value_or(0), 2u) << stats << run.Describe();
}

// pthread functions respct leaves to glibc: none blocks, takes or releases an
// application lock, or creates or ends a thread, so none is a restart point or
// holds state that must be restart-safe (DESIGN §3). pthread_once is libc's
// one-time initialisation; keys and thread-specific data are libc TLS state,
// re-initialised on restart. Deliberately absent: pthread_cancel (a thread
// cancelled inside a lock must drop its lock depth) and robust-mutex calls.
const std::set<std::string> kNotInterposed = {
    "pthread_self",           "pthread_equal",          "pthread_once",          "pthread_getspecific",
    "pthread_setspecific",    "pthread_sigmask",        "pthread_kill",          "pthread_setname_np",
    "pthread_getname_np",     "pthread_getattr_np",     "pthread_getschedparam", "pthread_setschedparam",
    "pthread_setschedprio",   "pthread_getaffinity_np", "pthread_setaffinity_np", "pthread_getcpuclockid",
    "pthread_atfork",         "pthread_yield",
};
const char* const kAllowedPrefixes[] = {"pthread_key_",        "pthread_attr_",        "pthread_mutexattr_",
                                        "pthread_condattr_",   "pthread_rwlockattr_",  "pthread_barrierattr_",
                                        "pthread_getattr_default_np", "pthread_setattr_default_np"};

bool AllowedUninterposed(const std::string& name) {
  if (kNotInterposed.count(name) != 0) return true;
  for (const char* p : kAllowedPrefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

// pthread_* names from `nm -D <flag> file`, without the @GLIBC_x version.
std::set<std::string> PthreadSymbols(const std::string& dir, const std::string& file, const std::string& flag,
                                     std::string* error) {
  const ChildResult r = RunChild(dir, "nm", {"nm", "-D", flag, file});
  std::set<std::string> names;
  if (r.exit_code != 0) {
    *error = r.Describe();
    return names;
  }
  for (const std::string& line : Lines(r.out)) {
    const size_t space = line.find_last_of(' ');
    std::string name = space == std::string::npos ? line : line.substr(space + 1);
    name = name.substr(0, name.find('@'));
    if (name.rfind("pthread_", 0) == 0) names.insert(name);
  }
  return names;
}

// This test binary is itself a C++ program: the libstdc++.so.6 it has loaded
// is the one cpp_sync_prog uses.
std::string LoadedLibstdcxx() {
  for (const std::string& line : Lines(ReadFile("/proc/self/maps"))) {
    const size_t slash = line.find('/');
    if (slash != std::string::npos && line.find("libstdc++.so.6") != std::string::npos) return line.substr(slash);
  }
  return {};
}

TEST(CppSync, PthreadImportsInterposed) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string error;
  const std::set<std::string> exported = PthreadSymbols(dir.path(), RESPCT_LIBRARY, "--defined-only", &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(exported.count("pthread_mutex_lock")) << "nm found no pthread exports in " << RESPCT_LIBRARY;

  const std::string libstdcxx = LoadedLibstdcxx();
  ASSERT_FALSE(libstdcxx.empty()) << "libstdc++.so.6 not found in /proc/self/maps";
  for (const std::string& importer : {std::string(CPP_SYNC_PROG), libstdcxx}) {
    const std::set<std::string> imported = PthreadSymbols(dir.path(), importer, "--undefined-only", &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_FALSE(imported.empty()) << importer << " imports no pthread_* at all: is it the right file?";
    std::string missing;
    for (const std::string& name : imported)
      if (exported.count(name) == 0 && !AllowedUninterposed(name)) missing += " " + name;
    EXPECT_TRUE(missing.empty()) << importer << " imports pthread functions that " << RESPCT_LIBRARY
                                 << " does not interpose and the allow-list does not cover:" << missing;
  }
}

}  // namespace
}  // namespace respct::shimtest
