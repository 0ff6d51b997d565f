// respct-inspect: lists the apps of a respct memnode (live, over its URL) or
// of a pool file (offline, read-only). See --help. main() parses flags, gets
// the summaries, prints; every failure is one line on stderr and exit 1.
#include <cstdio>
#include <cstring>
#include <string_view>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "memnode/pool.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "tools/inspect/app_listing.h"

namespace {

constexpr const char* kDescription = R"(respct-inspect - show the applications a respct memnode keeps

Lists every application (app) of a memnode's pool: its last committed and
last applied epoch, the size of its image and number of regions, how much of
its log ring holds epochs not yet applied, when it last committed, and whether
a writer (a running program under respct) is attached now.

Live: connects to a running respct-memnode (--memnode URL) and proves the
shared secret (--secret-file) in an admin session, which can list apps but
never read or change their bytes.
Offline: reads a pool file directly (--pool FILE), read-only, without taking
its lock; useful when no memnode runs. A pool being written by a live
memnode may show a commit in progress.)";

constexpr const char* kFooter = R"(
COLUMNS
  APP          application name (what respct-run --app / RESPCT_APP set)
  COMMITTED    last durable epoch: what a recovery restores
  APPLIED      last epoch copied into the image (<= COMMITTED; the memnode
               applies the rest on the next read or restart)
  IMAGE        bytes of the app's persisted regions, REGIONS how many
  RING USED    log bytes not yet applied / ring capacity
  LAST COMMIT  UTC time of the last commit, or never
  WRITER       yes when a writer is attached now; - offline (unknown)

JSON (--json)
  {"source": "...", "apps": [{"name", "app_id" (hex), "committed_epoch",
  "applied_epoch", "image_bytes", "regions", "ring_used_bytes",
  "ring_capacity_bytes", "last_commit" (ISO-8601 or null),
  "last_commit_unix_ns", "writer_attached" (true/false, null offline)}]}

EXAMPLES
  respct-inspect                                 the default local memnode
  respct-inspect --memnode tcp://memnode.example:7100 --secret-file ~/respct.key
  respct-inspect --app bank --json | jq .apps[0].committed_epoch
  respct-inspect --pool /mnt/pmem0/respct.pool   offline

EXIT STATUS
  0 success; 1 the memnode, secret or pool could not be used, or --app names
  no app; 2 bad command-line flags.

ENVIRONMENT
  RESPCT_STATE_DIR     directory of the default memnode socket and secret
  RESPCT_SECRET_FILE   default for --secret-file)";

int Fail(const std::string& what) {
  std::fprintf(stderr, "respct-inspect: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string memnode = respct::DefaultMemnodeUrl();
  std::string pool;
  std::string app;
  std::string secret_file = respct::DefaultSecretPath();
  bool json = false;

  CLI::App cli(kDescription, "respct-inspect");
  cli.footer(kFooter);
  auto* memnode_opt = cli.add_option("--memnode", memnode,
                                     "Memnode to ask: shm:///PATH (this host) or tcp://HOST:PORT.")
                          ->type_name("URL")
                          ->capture_default_str();
  cli.add_option("--pool", pool, "Read this pool file offline instead of asking a memnode.")
      ->type_name("FILE")
      ->excludes(memnode_opt);
  cli.add_option("--app", app, "Show only this app (exit 1 if it does not exist).")->type_name("NAME");
  cli.add_option("--secret-file", secret_file, "Shared secret of the memnode (live mode only).")
      ->type_name("FILE")
      ->capture_default_str();
  cli.add_flag("--json", json, "Print JSON instead of a table.");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "respct-inspect: %s (see --help)\n", e.what());
    return 2;
  }

  respct::inspect::Listing listing;
  if (!pool.empty()) {
    auto p = respct::memnode::Pool::Open(pool, 0, respct::memnode::Pool::OpenMode::kReadOnly);
    if (!p.ok()) return Fail("pool " + pool + ": " + p.status().message());
    listing.source = "pool " + pool;
    listing.live = false;
    listing.apps = (*p)->ListApps();
  } else {
    auto secret = respct::Secret::FromFile(secret_file);
    if (!secret.ok()) return Fail(secret.status().message());
    respct::ConnectOptions options;  // no app: an admin session, which may only list
    options.timeout_ms = 5000;
    auto t = respct::Transport::Connect(memnode, *secret, options);
    if (!t.ok()) return Fail(t.status().message());
    auto apps = (*t)->ListApps();
    if (!apps.ok()) return Fail(apps.status().message());
    listing.source = "memnode " + memnode;
    listing.apps = std::move(*apps);
  }
  if (!app.empty()) {
    std::erase_if(listing.apps, [&](const respct::wire::AppSummary& a) {
      return app != std::string_view(a.name, strnlen(a.name, sizeof a.name));
    });
    if (listing.apps.empty()) return Fail("no app '" + app + "' in " + listing.source);
  }
  const std::string out = json ? respct::inspect::FormatJson(listing) : respct::inspect::FormatTable(listing);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
