#include "runtime/core/config.h"

#include <cstdio>
#include <cstdlib>

#include "runtime/transport/default_paths.h"
#include "runtime/wire/message.h"

namespace respct::core {
namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

Status BadValue(const char* name, const std::string& value, const std::string& why) {
  return Status::InvalidArgument(std::string(name) + "='" + value + "': " + why);
}

Result<long> ParseInt(const char* name, const char* text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi)
    return BadValue(name, text, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

Result<uint64_t> SizeVar(const char* name, uint64_t dflt, uint64_t min) {
  const char* v = Env(name);
  if (v == nullptr) return dflt;
  Result<uint64_t> r = ParseSize(v);
  if (!r.ok()) return BadValue(name, v, r.status().message());
  if (*r < min || *r % kPageSize != 0)
    return BadValue(name, v, "must be a multiple of 4K and at least " + std::to_string(min >> 10) + "K");
  return r;
}

}  // namespace

const char* GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kLine: return "line";
    case Granularity::kPage: return "page";
    case Granularity::kFull: return "full";
  }
  return "?";
}

Result<uint64_t> ParseSize(const std::string& text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return Status::InvalidArgument("not a size");
  uint64_t mult = 1;
  const std::string suffix(end);
  if (suffix == "K" || suffix == "k" || suffix == "KiB") mult = 1ull << 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB") mult = 1ull << 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB") mult = 1ull << 30;
  else if (suffix == "T" || suffix == "t" || suffix == "TiB") mult = 1ull << 40;
  else if (!suffix.empty()) return Status::InvalidArgument("unknown size suffix '" + suffix + "' (use K, M, G or T)");
  if (v > UINT64_MAX / mult) return Status::InvalidArgument("size overflows 64 bits");
  return uint64_t(v) * mult;
}

Result<RuntimeConfig> LoadRuntimeConfig(const std::string& program) {
  RuntimeConfig c;
  if (const char* v = Env("RESPCT_DISABLE")) c.disabled = std::string(v) == "1";
  c.memnode = Env("RESPCT_MEMNODE") ? Env("RESPCT_MEMNODE") : DefaultMemnodeUrl();
  CommitQuorum quorum = CommitQuorum::kMajority;
  if (const char* v = Env("RESPCT_COMMIT_QUORUM")) {
    auto q = ParseCommitQuorum(v);
    if (!q.ok()) return q.status().Annotate("RESPCT_COMMIT_QUORUM");
    quorum = *q;
  }
  auto replicas = ParseReplicaSet({c.memnode}, quorum);
  if (!replicas.ok()) return replicas.status().Annotate("RESPCT_MEMNODE");
  c.replicas = std::move(replicas.value());
  if (const char* v = Env("RESPCT_TAKE_OVER")) c.take_over = std::string(v) == "1";
  if (const char* v = Env("RESPCT_APP")) {
    c.app = v;
  } else {
    c.app = DefaultAppName(program);
  }
  if (Status st = wire::ValidateAppName(c.app); !st.ok()) return st.Annotate("RESPCT_APP");
  c.secret_file = DefaultSecretPath();
  if (const char* v = Env("RESPCT_EPOCH_MS")) {
    auto r = ParseInt("RESPCT_EPOCH_MS", v, 1, 60'000);
    if (!r.ok()) return r.status();
    c.epoch_ms = static_cast<int>(*r);
  }
  if (const char* v = Env("RESPCT_QUIESCE_MS")) {
    auto r = ParseInt("RESPCT_QUIESCE_MS", v, 1, 600'000);
    if (!r.ok()) return r.status();
    c.quiesce_ms = static_cast<int>(*r);
  }
  if (const char* v = Env("RESPCT_TRACKER")) c.tracker = v;
  if (const char* v = Env("RESPCT_GRANULARITY")) {
    const std::string g = v;
    if (g == "line") c.granularity = Granularity::kLine;
    else if (g == "page") c.granularity = Granularity::kPage;
    else if (g == "full") c.granularity = Granularity::kFull;
    else return BadValue("RESPCT_GRANULARITY", g, "expected line, page or full");
  }
  if (const char* v = Env("RESPCT_STATS")) {
    const std::string s = v;
    if (s == "off" || s == "0") c.stats = StatsFormat::kOff;
    else if (s == "text" || s == "1") c.stats = StatsFormat::kText;
    else if (s == "json") c.stats = StatsFormat::kJson;
    else return BadValue("RESPCT_STATS", s, "expected off, text or json");
  }
  if (const char* v = Env("RESPCT_OUTPUT_COMMIT")) {
    const std::string s = v;
    if (s == "on" || s == "1") c.output_commit = true;
    else if (s == "off" || s == "0") c.output_commit = false;
    else return BadValue("RESPCT_OUTPUT_COMMIT", s, "expected on or off");
  }
  if (const char* v = Env("RESPCT_STATS_FILE")) c.stats_file = v;
  if (const char* v = Env("RESPCT_FRESH")) c.fresh = std::string(v) == "1";
  if (const char* v = Env("RESPCT_BASE")) {
    char* end = nullptr;
    const unsigned long long b = std::strtoull(v, &end, 16);
    // The regions take four 1 TiB slots from the base (layout.h); the last
    // must end inside the 47-bit user address space, below the program's own
    // stack and mappings near its top: hence at most 0x7b0000000000.
    constexpr unsigned long long kHighestBase = 0x7fffull << 32 & ~((1ull << 40) - 1);
    constexpr unsigned long long kMaxBase = kHighestBase - 4 * kRegionSpacing;
    if (end == v || *end != '\0' || b % (1ull << 30) != 0 || b < (1ull << 40) || b > kMaxBase)
      return BadValue("RESPCT_BASE", v, "expected a 1 GiB-aligned hex address between 1 TiB and 0x7b0000000000");
    c.layout.base = b;
  }
  auto ring = SizeVar("RESPCT_RING_SIZE", c.ring_size, 16u << 20);
  if (!ring.ok()) return ring.status();
  c.ring_size = *ring;
  auto heap = SizeVar("RESPCT_HEAP_SIZE", c.layout.heap_size, 16u << 20);
  if (!heap.ok()) return heap.status();
  c.layout.heap_size = *heap;
  auto stack = SizeVar("RESPCT_STACK_SIZE", c.layout.stack_size, 64u << 10);
  if (!stack.ok()) return stack.status();
  c.layout.stack_size = *stack;
  if (const char* v = Env("RESPCT_MAX_THREADS")) {
    auto r = ParseInt("RESPCT_MAX_THREADS", v, 2, 1024);
    if (!r.ok()) return r.status();
    c.layout.max_threads = static_cast<uint32_t>(*r);
  }
  if (uint64_t(c.layout.max_threads) * c.layout.stack_size > kRegionSpacing)
    return Status::InvalidArgument("RESPCT_MAX_THREADS × RESPCT_STACK_SIZE exceeds 1 TiB");
  if (const char* v = Env("RESPCT_DUMP_DIR")) c.dump_dir = v;
  if (const char* v = Env("RESPCT_RECOVER")) c.recover_image = v;
  if (const char* v = Env("RESPCT_DROP_UNRESTORABLE")) c.drop_unrestorable = std::string(v) == "1";
  if (const char* v = Env("RESPCT_TEST_DELAY_SLOT")) {
    int slot = -1, ms = 0, used = 0;
    if (std::sscanf(v, "%d:%d%n", &slot, &ms, &used) != 2 || v[used] != '\0' || slot < 0 || ms < 0 ||
        ms > 60'000)
      return BadValue("RESPCT_TEST_DELAY_SLOT", v, "expected SLOT:MILLISECONDS");
    c.test_delay_slot = slot;
    c.test_delay_ms = ms;
  }
  if (const char* v = Env("RESPCT_TEST_KILL_AT_EXIT")) c.test_kill_at_exit = std::string(v) == "1";
  if (const char* v = Env("RESPCT_LOG")) {
    const std::string l = v;
    if (l == "error") c.log_level = 0;
    else if (l == "warn") c.log_level = 1;
    else if (l == "info") c.log_level = 2;
    else if (l == "debug") c.log_level = 3;
    else return BadValue("RESPCT_LOG", l, "expected error, warn, info or debug");
  }
  return c;
}

}  // namespace respct::core
