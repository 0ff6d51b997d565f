// LoadedProgram::Inspect on the test executable itself: its globals span,
// identity, TLS block, libraries, the code respct does not own, and the
// library-owned parts of its globals (copy relocations, the PLT GOT) that a
// recovery must leave alone.
#include "runtime/core/loaded_program.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

namespace respct::core {
namespace {

int g_data = 42;                    // .data
int g_bss;                          // .bss
const int g_rodata = 7;             // read-only: not a persisted global
thread_local uint64_t t_tls_word = 1;  // the executable's static TLS

bool Inside(const void* p, uintptr_t lo, size_t len) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return a >= lo && a < lo + len;
}

bool InsideAny(const void* p, const std::vector<AddressRange>& ranges) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return std::any_of(ranges.begin(), ranges.end(), [&](const AddressRange& r) { return a >= r.lo && a < r.hi; });
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

class LoadedProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = LoadedProgram::Inspect();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    prog_ = std::move(p.value());
  }
  LoadedProgram prog_;
};

TEST_F(LoadedProgramTest, FindsTheExecutableAndItsGlobals) {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(prog_.exe_path, std::string(path, static_cast<size_t>(n)));
  EXPECT_EQ(prog_.globals_base % 4096, 0u);
  EXPECT_TRUE(Inside(&g_data, prog_.globals_base, prog_.globals_size));
  EXPECT_TRUE(Inside(&g_bss, prog_.globals_base, prog_.globals_size));
  EXPECT_FALSE(Inside(&g_rodata, prog_.globals_base, prog_.globals_size));
  EXPECT_EQ(prog_.build_id.size(), 20u);  // --build-id=sha1, Debian's default
  EXPECT_GE(prog_.tls_size, sizeof t_tls_word);
  EXPECT_NE(prog_.tls_align, 0u);
}

TEST_F(LoadedProgramTest, ExecutableTlsBlockIsTheCallingThreadsOwn) {
  const uintptr_t mine = ExecutableTlsBlock();
  EXPECT_TRUE(Inside(&t_tls_word, mine, prog_.tls_size));
  uintptr_t other = 0;
  const uint64_t* other_word = nullptr;
  std::thread([&] {
    other = ExecutableTlsBlock();
    other_word = &t_tls_word;
  }).join();
  EXPECT_NE(other, mine);
  EXPECT_TRUE(Inside(other_word, other, prog_.tls_size));
}

TEST_F(LoadedProgramTest, LibrariesAndTheCodeRespctDoesNotOwn) {
  Dl_info libc{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&::getppid), &libc), 0);
  const auto lib = std::find_if(prog_.libraries.begin(), prog_.libraries.end(),
                                [](const LibraryInfo& l) { return BaseName(l.name) == "libc.so.6"; });
  ASSERT_NE(lib, prog_.libraries.end());
  EXPECT_EQ(lib->load_addr, reinterpret_cast<uintptr_t>(libc.dli_fbase));
  EXPECT_TRUE(std::is_sorted(prog_.runtime_code.begin(), prog_.runtime_code.end(),
                             [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; }));
  SetRuntimeCode(prog_.runtime_code);
  EXPECT_EQ(CodeOwnerAt(reinterpret_cast<uintptr_t>(&::getppid)), CodeOwner::kLibc);
  EXPECT_EQ(CodeOwnerAt(reinterpret_cast<uintptr_t>(&BaseName)), CodeOwner::kProgram);
  // libstdc++ is the program's too (no librespct is loaded here).
  EXPECT_EQ(CodeOwnerAt(reinterpret_cast<uintptr_t>(&std::terminate)), CodeOwner::kProgram);
  SetRuntimeCode({});
}

// The program's own libraries' data is persisted; libc's, ld.so's and
// libgcc_s's is per process and is not.
TEST_F(LoadedProgramTest, PersistsTheDataOfTheProgramsOwnLibrariesOnly) {
  bool stdcxx = false;
  for (const LibraryGlobals& g : prog_.library_globals) {
    const std::string base = BaseName(g.name);
    EXPECT_NE(base.rfind("libc.so", 0), 0u) << g.name;
    EXPECT_NE(base.rfind("ld-linux", 0), 0u) << g.name;
    EXPECT_NE(base.rfind("libgcc_s", 0), 0u) << g.name;
    EXPECT_EQ(g.base % 4096, 0u) << g.name;
    EXPECT_GT(g.size, 0u) << g.name;
    EXPECT_TRUE(std::any_of(prog_.libraries.begin(), prog_.libraries.end(),
                            [&](const LibraryInfo& l) { return l.name == g.name; }))
        << g.name;
    if (base.rfind("libstdc++", 0) == 0) stdcxx = true;
  }
  EXPECT_TRUE(stdcxx);
}

// environ and std::cerr belong to libc and libstdc++. GCC reaches such data
// from a PIE through copy relocations, so their storage is in the
// executable's .bss and a recovery must not restore it over what this
// process's libraries set up; clang reaches it through the GOT, so it stays
// in the libraries. Either way the program's own globals are restored.
bool CopyRelocatedIntoTheExecutable() {
#if defined(__clang__)
  return false;
#else
  return true;
#endif
}

TEST_F(LoadedProgramTest, ProcessOwnedGlobalsCoverCopyRelocations) {
  ASSERT_TRUE(prog_.FindProcessOwnedGlobals().ok());
  EXPECT_TRUE(std::is_sorted(prog_.process_owned_globals.begin(), prog_.process_owned_globals.end(),
                             [](const AddressRange& a, const AddressRange& b) { return a.lo < b.lo; }));
  for (const void* library_data : {static_cast<const void*>(&environ), static_cast<const void*>(&std::cerr)}) {
    const bool in_executable = Inside(library_data, prog_.globals_base, prog_.globals_size);
    EXPECT_EQ(in_executable, CopyRelocatedIntoTheExecutable());
    if (in_executable) {
      EXPECT_TRUE(InsideAny(library_data, prog_.process_owned_globals));
    }
  }
  EXPECT_FALSE(InsideAny(&g_data, prog_.process_owned_globals));
  EXPECT_FALSE(InsideAny(&g_bss, prog_.process_owned_globals));
}

TEST_F(LoadedProgramTest, ProcessOwnedGlobalsOfAFileThatIsNoElfIsAnError) {
  char name[] = "/tmp/respct-not-elf-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "#!/bin/sh\n", 10), 10);
  close(fd);
  prog_.exe_path = name;
  EXPECT_TRUE(prog_.FindProcessOwnedGlobals().IsCorruption());
  unlink(name);
  EXPECT_TRUE(prog_.FindProcessOwnedGlobals().IsNotFound());
}

}  // namespace
}  // namespace respct::core
