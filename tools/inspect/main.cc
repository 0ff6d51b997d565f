// respct-inspect: shows what a respct memnode (live, over its URL) or a pool
// file (offline, read-only) keeps: its apps, an app's epochs, the threads of
// its image with backtraces, what changed between epochs, and the image
// itself as files. See --help. main() parses flags, picks the report, prints;
// every failure is one line on stderr and exit 1.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "memnode/pool.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "tools/inspect/app_listing.h"
#include "tools/inspect/epoch_report.h"
#include "tools/inspect/image_extract.h"
#include "tools/inspect/image_source.h"
#include "tools/inspect/fd_report.h"
#include "runtime/base/json_string.h"
#include "tools/inspect/process_image.h"
#include "tools/inspect/replica_report.h"
#include "tools/inspect/thread_report.h"

namespace {

constexpr const char* kDescription = R"HELP(respct-inspect - show what a respct memnode keeps, and replay it

Without a report flag, lists every application (app) of a memnode's pool:
its last committed and last applied epoch, the size of its image and number
of regions, how much of its log ring holds epochs not yet applied, when it
last committed, and whether a writer (a running program under respct) is
attached now.

With --app NAME and one report flag, looks into that app:
  --epochs          its committed epochs from the memnode's epoch history
                    (the last 4096): commit time, bytes and records shipped,
                    and the thread count of the epoch the image holds
  --threads         every thread of the image: slot state, how it parked,
                    start routine and a symbolized backtrace unwound from its
                    saved registers through the image's stacks (libunwind,
                    with the executable's and libraries' own unwind tables
                    and symbols, read from disk at their recorded paths)
  --fds             the kernel objects a recovery of the image recreates:
                    every descriptor (kind, path or address, offset, flags,
                    the dups sharing its open file description, bytes
                    buffered in pipes and socketpairs), epoll interest
                    lists, signal dispositions, cwd, umask, rlimits
  --diff E1 E2      which regions and 64-byte lines epochs E1+1 .. E2 wrote,
                    read back from their records in the log ring
  --extract [E] DIR the image as files: DIR/meta.bin, heap.bin, stacks.bin,
                    globals.bin (sparse) and DIR/manifest.json
  --replicas        the app on every memnode named with --memnode (its
                    replicas): committed and applied epoch, writer, how far
                    each is behind; and the last committed epoch, known when
                    a read quorum answers (exit 1 otherwise)

The memnode keeps one image per app, as of its last committed epoch: --threads,
--fds and --extract can show that epoch only. Older epochs survive as their log
records until the ring wraps over them, which is what --diff reads.

Live: connects to a running respct-memnode (--memnode URL) and proves the
shared secret (--secret-file): listings, epochs and diffs use an admin
session (metadata only); --threads and --extract read the image over a
reader session of the app. With a writer attached, a report that straddles
a new commit is retried until it reads one epoch.
Offline: reads a pool file directly (--pool FILE), read-only, without taking
its lock; useful when no memnode runs. --verify (offline only) checks every
app, or the --app named, against the pool's checksums: its table entry and
applied marks, that its log holds every epoch its history says committed,
and every 4 KiB page of its image against the page's checksum; one line per
app (ok, or DAMAGED and where), exit status 1 if any is damaged. The image is then as of the last
*applied* epoch (the memnode applies committed epochs when it next starts).)HELP";

constexpr const char* kFooter = R"HELP(
APP LIST COLUMNS
  APP          application name (what respct-run --app / RESPCT_APP set)
  COMMITTED    last durable epoch: what a recovery restores
  APPLIED      last epoch copied into the image (<= COMMITTED; the memnode
               applies the rest on the next read or restart)
  IMAGE        bytes of the app's persisted regions, REGIONS how many
  RING USED    log bytes not yet applied / ring capacity
  LAST COMMIT  UTC time of the last commit, or never
  WRITER       yes when a writer is attached now; - offline (unknown)

EPOCHS COLUMNS (--epochs)
  EPOCH, COMMITTED (UTC time the memnode made it durable), BYTES (payload
  shipped), RECORDS (log records), THREADS (live thread slots; known only
  for the epoch the image holds, - for the others)

THREADS (--threads)
  One block per used thread slot: index, state (parked, frozen = blocked in
  a call, frozen-starting = created but not started, ...), park kind
  (restart-point: at a lock or thread boundary; signal: stopped by the
  checkpoint signal in application code, its backtrace passes through
  "<signal handler called>"; blocking: inside a blocking call), flags
  (main, detached), start routine, then frames "#N pc function+offset
  (module)". Frames of code whose file is missing show as addresses.

FDS (--fds)
  A table: FD, KIND (file, pipe, socketpair, unix, inet, eventfd, timerfd,
  signalfd, epoll, memfd; unsupported: a recovery refuses it, or drops it
  with --drop-unrestorable), WHAT (the kind's description: "file PATH @OFF",
  "tcp listener ADDR (backlog N)", "pipe read end #ID (N B buffered)",
  "eventfd count N", ...), OFFSET, FLAGS (O_ACCMODE|O_APPEND|O_NONBLOCK...),
  CLOEXEC, SHARES (descriptors of the same open file description: dups).
  Descriptors inherited from the launcher (stdin, stdout, stderr) are not
  listed: a recovery takes its own launcher's. Then each epoll set's
  interest list (FD, EVENTS, DATA), the signal dispositions the program
  set, and the process attributes.

DIFF (--diff E1 E2)
  Per region: LINES (distinct 64-byte lines written), BYTES (distinct bytes
  written), RANGES (merged runs of lines), FIRST and END (exclusive) offsets
  of the changed span, line-aligned. These are the lines respct shipped,
  i.e. lines whose content differed from the previous epoch's when they were
  shipped; a line written and later restored still counts. Needs every
  record of E1+1 .. E2 still in the ring: when a later lap overwrote some,
  the error names the oldest E1 that works.

EXTRACT (--extract [E] DIR)
  DIR is created if needed; files are overwritten. E, if given, must be the
  image's epoch. manifest.json: {"app", "source", "epoch", "regions": [{"id",
  "name", "file", "base_addr", "size"}], "build_id", "exe_path",
  "max_threads", "stack_size", "libraries": [{"name", "load_addr"}]}.
  Progress lines go to stderr for images above 64 MiB.

JSON (--json)
  App list: {"source", "apps": [{"name", "app_id" (hex), "committed_epoch",
  "applied_epoch", "image_bytes", "regions", "ring_used_bytes",
  "ring_capacity_bytes", "last_commit" (ISO-8601 or null),
  "last_commit_unix_ns", "writer_attached" (true/false, null offline)}]}
  --epochs: {"app", "source", "committed_epoch", "applied_epoch",
  "image_epoch", "image_threads", "epochs": [{"epoch", "committed",
  "commit_unix_ns", "payload_bytes", "records", "ring_first_pos",
  "ring_end_pos", "threads"}]}
  --threads: {"app", "source", "epoch", "exe_path", "warnings", "threads":
  [{"index", "state", "park_kind", "flags", "start_routine",
  "start_symbol", "fctx", "parked_epoch", "backtrace": [{"pc", "sp",
  "symbol", "module", "signal_trampoline", "interrupted"}],
  "backtrace_note"}]}
  --fds: {"app", "source", "epoch", "fds": [{"fd", "kind", "what", "path",
  "offset" (null if none), "buffered_bytes", "status_flags", "cloexec",
  "description", "shares_with", "restorable", "interest" (epoll: [{"fd",
  "events", "events_text", "data", "disarmed"}])}], "signals": [{"signal",
  "name", "disposition", "handler", "flags"}], "cwd", "umask", "rlimits",
  "children"}
  --diff: {"app", "source", "from_epoch", "to_epoch", "records", "regions":
  [{"id", "name", "lines", "bytes", "ranges": [{"offset", "length"}]}]}
  --extract: {"epoch", "dir", "bytes", "nonzero_bytes", "manifest"}

EXAMPLES
  respct-inspect                                 the default local memnode
  respct-inspect --memnode tcp://memnode.example:7100 --secret-file ~/respct.key
  respct-inspect --app bank --epochs --last 20
  respct-inspect --app bank --threads
  respct-inspect --app memcached --fds
  respct-inspect --app bank --diff 120 125 --json | jq .regions
  respct-inspect --pool /mnt/pmem0/respct.pool --app bank --extract /tmp/bank-image

EXIT STATUS
  0 success; 1 the memnode, secret or pool could not be used, --app names
  no app, or the report cannot be made (epoch not available, records
  overwritten, ...); 2 bad command-line flags.

ENVIRONMENT
  RESPCT_STATE_DIR     directory of the default memnode socket and secret
  RESPCT_SECRET_FILE   default for --secret-file)HELP";

int Fail(const std::string& what) {
  std::fprintf(stderr, "respct-inspect: %s\n", what.c_str());
  return 1;
}

void Print(const std::string& out) { std::fwrite(out.data(), 1, out.size(), stdout); }

struct Flags {
  std::vector<std::string> memnodes;  // --memnode, repeated or comma-separated
  std::string memnode = respct::DefaultMemnodeUrl();  // the one a report other than --replicas asks
  std::string commit_quorum = "majority";
  bool replicas = false;
  std::string pool;
  std::string app;
  std::string secret_file = respct::DefaultSecretPath();
  bool json = false;
  bool epochs = false;
  uint64_t last = 0;
  bool threads = false;
  bool fds = false;
  std::optional<uint64_t> epoch;
  size_t max_frames = 64;
  std::vector<uint64_t> diff;
  std::vector<std::string> extract;
  bool verify = false;
};

// --verify: every app of an offline pool against its checksums.
int VerifyPool(const Flags& f) {
  auto p = respct::memnode::Pool::Open(f.pool, 0, respct::memnode::Pool::OpenMode::kReadOnly);
  if (!p.ok()) return Fail("pool " + f.pool + ": " + p.status().message());
  std::vector<respct::memnode::Pool::AppCheck> checks = (*p)->Verify();
  if (!f.app.empty()) {
    std::erase_if(checks, [&](const auto& c) { return c.name != f.app; });
    if (checks.empty()) return Fail("no app '" + f.app + "' in pool " + f.pool);
  }
  size_t damaged = 0;
  std::string text;
  std::string json = "{\"pool\": " + respct::JsonString(f.pool) + ", \"apps\": [";
  for (size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    damaged += c.status.ok() ? 0 : 1;
    text += c.name + ": " + (c.status.ok() ? std::string("ok") : "DAMAGED: " + c.status.message()) + "\n";
    json += std::string(i ? ", " : "") + "{\"name\": " + respct::JsonString(c.name) +
            ", \"ok\": " + (c.status.ok() ? "true" : "false") + ", \"problem\": " +
            (c.status.ok() ? std::string("null") : respct::JsonString(c.status.message())) + "}";
  }
  json += "], \"damaged\": " + std::to_string(damaged) + "}\n";
  text += "pool " + f.pool + ": " + std::to_string(checks.size()) + " app(s), " + std::to_string(damaged) +
          " damaged\n";
  Print(f.json ? json : text);
  return damaged == 0 ? 0 : 1;
}

int ListApps(const Flags& f) {
  respct::inspect::Listing listing;
  if (!f.pool.empty()) {
    auto p = respct::memnode::Pool::Open(f.pool, 0, respct::memnode::Pool::OpenMode::kReadOnly);
    if (!p.ok()) return Fail("pool " + f.pool + ": " + p.status().message());
    listing.source = "pool " + f.pool;
    listing.live = false;
    listing.apps = (*p)->ListApps();
  } else {
    auto secret = respct::Secret::FromFile(f.secret_file);
    if (!secret.ok()) return Fail(secret.status().message());
    respct::ConnectOptions options;  // no app: an admin session, which may only list
    options.timeout_ms = 5000;
    auto t = respct::Transport::Connect(f.memnode, *secret, options);
    if (!t.ok()) return Fail(t.status().message());
    auto apps = (*t)->ListApps();
    if (!apps.ok()) return Fail(apps.status().message());
    listing.source = "memnode " + f.memnode;
    listing.apps = std::move(*apps);
  }
  if (!f.app.empty()) {
    std::erase_if(listing.apps, [&](const respct::wire::AppSummary& a) {
      return f.app != std::string_view(a.name, strnlen(a.name, sizeof a.name));
    });
    if (listing.apps.empty()) return Fail("no app '" + f.app + "' in " + listing.source);
  }
  Print(f.json ? respct::inspect::FormatJson(listing) : respct::inspect::FormatTable(listing));
  return 0;
}

int ShowReplicas(const Flags& f) {
  auto quorum = respct::ParseCommitQuorum(f.commit_quorum);
  if (!quorum.ok()) return Fail(quorum.status().message());
  auto set = respct::ParseReplicaSet(f.memnodes.empty() ? std::vector<std::string>{f.memnode} : f.memnodes, *quorum);
  if (!set.ok()) return Fail("--memnode: " + set.status().message());
  auto secret = respct::Secret::FromFile(f.secret_file);
  if (!secret.ok()) return Fail(secret.status().message());
  const respct::inspect::ReplicaReport r = respct::inspect::BuildReplicaReport(*set, *secret, f.app);
  Print(f.json ? respct::inspect::FormatReplicasJson(r) : respct::inspect::FormatReplicasText(r));
  return r.quorum ? 0 : 1;
}

// The image holds one epoch; `wanted`, if given, must be it.
int RefuseOtherEpoch(const std::string& app, uint64_t wanted, uint64_t image_epoch) {
  return Fail("epoch " + std::to_string(wanted) + " of app '" + app +
              "' is not available: the memnode keeps only the image of epoch " + std::to_string(image_epoch) +
              " (--diff shows what older epochs wrote)");
}

int Report(const Flags& f) {
  namespace in = respct::inspect;
  std::unique_ptr<in::ImageSource> source;
  if (!f.pool.empty()) {
    auto s = in::ImageSource::OpenPool(f.pool, f.app);
    if (!s.ok()) return Fail(s.status().message());
    source = std::move(s).value();
  } else {
    auto secret = respct::Secret::FromFile(f.secret_file);
    if (!secret.ok()) return Fail(secret.status().message());
    auto s = in::ImageSource::ConnectMemnode(f.memnode, *secret, f.app);
    if (!s.ok()) return Fail(s.status().message());
    source = std::move(s).value();
  }
  if (f.epochs) {
    auto r = in::BuildEpochReport(source.get(), f.last);
    if (!r.ok()) return Fail(r.status().message());
    Print(f.json ? in::FormatEpochsJson(*r) : in::FormatEpochsText(*r));
    return 0;
  }
  if (f.fds) {
    auto r = in::BuildFdReport(source.get());
    if (!r.ok()) return Fail(r.status().message());
    Print(f.json ? in::FormatFdsJson(*r) : in::FormatFdsText(*r));
    return 0;
  }
  if (f.threads) {
    auto r = in::BuildThreadReport(source.get(), f.max_frames);
    if (!r.ok()) return Fail(r.status().message());
    if (f.epoch && *f.epoch != r->epoch) return RefuseOtherEpoch(f.app, *f.epoch, r->epoch);
    Print(f.json ? in::FormatThreadsJson(*r) : in::FormatThreadsText(*r));
    return 0;
  }
  if (!f.diff.empty()) {
    if (f.diff[0] >= f.diff[1]) return Fail("--diff E1 E2 needs E1 < E2");
    auto r = in::BuildDiffReport(source.get(), f.diff[0], f.diff[1]);
    if (!r.ok()) return Fail(r.status().message());
    Print(f.json ? in::FormatDiffJson(*r) : in::FormatDiffText(*r));
    return 0;
  }
  // --extract [E] DIR
  const std::string& dir = f.extract.back();
  if (f.extract.size() == 2) {
    uint64_t wanted = 0;
    const std::string& e = f.extract.front();
    const auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), wanted);
    if (ec != std::errc() || end != e.data() + e.size()) return Fail("--extract: '" + e + "' is not an epoch number");
    auto img = in::ProcessImage::Load(source.get());
    const uint64_t held = img.ok() ? (*img)->meta().epoch : source->image_epoch();
    if (wanted != held) return RefuseOtherEpoch(f.app, wanted, held);
  }
  auto r = in::ExtractImage(source.get(), dir, stderr);
  if (!r.ok()) return Fail(r.status().message());
  if (f.json) {
    Print("{\"epoch\": " + std::to_string(r->epoch) + ", \"dir\": " + respct::JsonString(dir) +
          ", \"bytes\": " + std::to_string(r->bytes) + ", \"nonzero_bytes\": " + std::to_string(r->nonzero_bytes) +
          ", \"manifest\": " + respct::JsonString(r->manifest_path) + "}\n");
  } else {
    Print("extracted epoch " + std::to_string(r->epoch) + " of app " + f.app + " to " + dir + ": " +
          in::HumanBytes(r->bytes) + " in " + std::to_string(source->regions().size()) + " region file(s), " +
          in::HumanBytes(r->nonzero_bytes) + " non-zero, manifest " + r->manifest_path + "\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App cli(kDescription, "respct-inspect");
  cli.footer(kFooter);
  auto* memnode_opt = cli.add_option("--memnode", f.memnodes,
                                     "Memnode to ask: shm:///PATH (this host) or tcp://HOST:PORT (default " +
                                         f.memnode + "). With --replicas, every memnode of an app's replica "
                                         "set: the flag repeated, or a comma-separated list.")
                          ->type_name("URL")
                          ->delimiter(',');
  auto* pool_opt = cli.add_option("--pool", f.pool, "Read this pool file offline instead of asking a memnode.")
                       ->type_name("FILE")
                       ->excludes(memnode_opt);
  auto* app_opt = cli.add_option("--app", f.app, "The app to show or look into (exit 1 if it does not exist).")
                      ->type_name("NAME");
  cli.add_option("--secret-file", f.secret_file, "Shared secret of the memnode (live mode only).")
      ->type_name("FILE")
      ->capture_default_str();
  cli.add_flag("--json", f.json, "Print JSON instead of text.");
  auto* epochs_opt = cli.add_flag("--epochs", f.epochs, "List the app's committed epochs.")->needs(app_opt);
  cli.add_option("--last", f.last, "With --epochs: only the last N epochs (default: all the history holds).")
      ->type_name("N")
      ->needs(epochs_opt);
  auto* threads_opt =
      cli.add_flag("--threads", f.threads, "Show the image's threads with backtraces.")->needs(app_opt);
  cli.add_option("--epoch", f.epoch, "With --threads: the epoch to show; only the image's epoch is available.")
      ->type_name("E")
      ->needs(threads_opt);
  cli.add_option("--max-frames", f.max_frames, "With --threads: frames per backtrace at most.")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{4096}))
      ->needs(threads_opt);
  auto* diff_opt = cli.add_option("--diff", f.diff, "Show what epochs E1+1 .. E2 wrote, per region.")
                       ->type_name("E1 E2")
                       ->expected(2)
                       ->needs(app_opt);
  auto* extract_opt =
      cli.add_option("--extract", f.extract, "Write the image (of epoch E, if given: it must be the image's) to DIR.")
          ->type_name("[E] DIR")
          ->expected(1, 2)
          ->needs(app_opt);
  auto* fds_opt = cli.add_flag("--fds", f.fds,
                               "List the kernel objects a recovery of the image will recreate: descriptors, epoll "
                               "interest lists, signal dispositions, process attributes.")
                      ->needs(app_opt);
  auto* replicas_opt =
      cli.add_flag("--replicas", f.replicas,
                   "Show the app on each memnode of its replica set (--memnode repeated): committed and applied "
                   "epoch, writer attached, how far behind the highest epoch; and the last committed epoch as a "
                   "recovery finds it (exit 1 unless a read quorum answers).")
          ->needs(app_opt)
          ->excludes(pool_opt);
  cli.add_option("--commit-quorum", f.commit_quorum,
                 "With --replicas: the rule the writer commits by (majority or all), which sets the read quorum.")
      ->check(CLI::IsMember({"majority", "all"}))
      ->capture_default_str()
      ->needs(replicas_opt);
  auto* verify_opt = cli.add_flag("--verify", f.verify,
                                  "Offline (--pool): check every app's table entry, log and whole image against "
                                  "their checksums; exit 1 if any app is damaged.")
                         ->needs(pool_opt);
  verify_opt->excludes(epochs_opt)->excludes(threads_opt)->excludes(diff_opt)->excludes(extract_opt)->excludes(fds_opt);
  replicas_opt->excludes(epochs_opt)->excludes(threads_opt)->excludes(diff_opt)->excludes(extract_opt)->excludes(fds_opt);
  fds_opt->excludes(epochs_opt)->excludes(threads_opt)->excludes(diff_opt)->excludes(extract_opt);
  epochs_opt->excludes(threads_opt)->excludes(diff_opt)->excludes(extract_opt);
  threads_opt->excludes(diff_opt)->excludes(extract_opt);
  diff_opt->excludes(extract_opt);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "respct-inspect: %s (see --help)\n", e.what());
    return 2;
  }
  if (f.replicas) return ShowReplicas(f);
  if (f.memnodes.size() > 1) return Fail("several memnodes are named: only --replicas asks more than one");
  if (f.memnodes.size() == 1) f.memnode = f.memnodes[0];
  if (f.verify) return VerifyPool(f);
  if (f.epochs || f.threads || f.fds || !f.diff.empty() || !f.extract.empty()) return Report(f);
  return ListApps(f);
}
