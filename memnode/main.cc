// respct-memnode: serves respct applications' persistent images and logs from
// a pool file (see --help). main() only parses flags, sets up logging and
// wires Pool, Secret and Server together; every failure ends in one line on
// stderr and a non-zero exit.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "memnode/pool.h"
#include "memnode/server.h"
#include "memnode/size_flag.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/secret.h"

#ifndef RESPCT_VERSION
#define RESPCT_VERSION "unknown"
#endif

namespace {

constexpr const char* kDescription = R"(respct-memnode - the memory node of respct

Keeps the persistent state of respct applications (programs run under
librespct.so / respct-run) in a pool file, ideally on persistent memory.
Each application owns a namespace in the pool: an image of its persisted
regions and a log ring. A client ships every epoch's changed cache lines as
log records, the memnode checks and persists them, writes a commit record
(the epoch is now durable), applies them to the image and frees the ring.
After a crash of the memnode (even kill -9) it replays committed epochs and
discards torn ones at start-up; after a crash of the application,
respct-recover reads the image of its last committed epoch from here.

Clients must prove the shared secret (--secret-file) before they can touch
anything; each connection reaches only the app it authenticated for.)";

constexpr const char* kFooter = R"(
LISTEN URLS
  tcp://HOST:PORT   TCP; records travel in RingWrite messages. Use a
                    loopback or private address: traffic is authenticated,
                    not encrypted.
  shm:///PATH       unix socket at PATH for clients on this host; a writer
                    gets a shared staging ring (memfd) and skips a copy.
                    A stale socket file (nobody answering) is replaced.
  rdma://HOST:PORT  RDMA verbs; PORT is the TCP port of connection set-up.
  PORT 0            any free port, chosen by the kernel; the ready file
                    says which.

SIZES accept a K, M, G or T suffix (powers of 1024): 512M, 4G.

SIGNALS
  SIGTERM, SIGINT   stop accepting, close connections, exit 0. Acknowledged
                    commits are already durable, so SIGKILL loses nothing
                    that was acknowledged either.

EXIT STATUS
  0 after a signal-initiated shutdown; 1 when the pool, secret or a listener
  cannot be set up; 2 on bad command-line flags.

ENVIRONMENT
  RESPCT_STATE_DIR     directory of the default pool, secret and socket
  RESPCT_SECRET_FILE   default for --secret-file)";

struct Flags {
  std::string pool;
  std::string size = "4G";
  std::vector<std::string> listen;
  std::string secret_file;
  std::string ring_size = "64M";
  std::string ready_file;
  std::string log_level = "info";
};

// CLI11 prints a description as one line but indents the lines after a
// '\n' under the first, so long descriptions are wrapped here.
std::string Wrap(const std::string& text, size_t width = 56) {
  std::string out;
  size_t line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (line != 0 && line + 1 + word.size() > width) {
      out += '\n';
      line = 0;
    } else if (line != 0) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    start = end + 1;
  }
  return out;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "respct-memnode: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  f.pool = respct::DefaultPoolPath();
  f.secret_file = respct::DefaultSecretPath();
  CLI::App cli(kDescription, "respct-memnode");
  cli.footer(kFooter);
  cli.set_version_flag("--version", std::string("respct-memnode ") + RESPCT_VERSION,
                       "Print the version and exit.");
  cli.add_option("--pool", f.pool,
                 Wrap("Pool file. Created sparse (with --size bytes) when it does not exist; locked so that only one "
                 "memnode serves it. On a DAX file system (real PMem) it is mapped with MAP_SYNC and persisted with "
                 "CPU cache flushes, otherwise persisted with msync."))
      ->type_name("FILE")
      ->capture_default_str();
  cli.add_option("--size", f.size, Wrap("Size of a new pool (ignored when the pool exists). Minimum 16M."))
      ->type_name("SIZE")
      ->capture_default_str();
  cli.add_option("--listen", f.listen,
                 Wrap("Where to accept clients; repeat for several listeners: tcp://HOST:PORT, shm:///PATH or "
                      "rdma://HOST:PORT (RDMA on the RoCE device that owns HOST, e.g. a NIC's IP, or 127.0.0.1 with "
                      "Soft-RoCE bound to lo; PORT is a TCP port for connection set-up, distinct from a tcp:// one). Default: " + respct::DefaultMemnodeUrl() +
                      " (the URL respct-run uses when given none)."))
      ->type_name("URL");
  cli.add_option("--secret-file", f.secret_file,
                 Wrap("Shared secret clients must prove (any 16..4096 bytes, mode 0600). Created with 32 random "
                      "bytes when missing."))
      ->type_name("FILE")
      ->capture_default_str();
  cli.add_option("--ring-size", f.ring_size,
                 Wrap("Log ring of each new app, unless its client asks for another size. Bounds the bytes of "
                      "epochs in flight; at least 4M + 256."))
      ->type_name("SIZE")
      ->capture_default_str();
  cli.add_option("--ready-file", f.ready_file,
                 Wrap("Written once every listener accepts connections: the memnode's pid on the first line, then "
                      "one line per listener with its URL as bound (a :0 port resolved). Removed at start and on a "
                      "clean exit; scripts and tests wait for it."))
      ->type_name("FILE");
  cli.add_option("--log-level", f.log_level, Wrap("Logging to stderr: trace, debug, info, warn, error, critical or off."))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->type_name("LEVEL")
      ->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "respct-memnode: %s (see --help)\n", e.what());
    return 2;
  }

  auto size = respct::memnode::ParseSize(f.size);
  if (!size.ok()) return std::fprintf(stderr, "respct-memnode: --size: %s\n", size.status().message().c_str()), 2;
  auto ring = respct::memnode::ParseSize(f.ring_size);
  if (!ring.ok()) return std::fprintf(stderr, "respct-memnode: --ring-size: %s\n", ring.status().message().c_str()), 2;
  if (f.listen.empty()) f.listen.push_back(respct::DefaultMemnodeUrl());
  // A ready file left by a killed predecessor must not announce this process
  // before its listeners are up (replaying a large pool can take a while).
  if (!f.ready_file.empty()) unlink(f.ready_file.c_str());

  auto logger = spdlog::stderr_color_mt("memnode");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ memnode: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(f.log_level));

  auto secret = respct::Secret::LoadOrCreate(f.secret_file);
  if (!secret.ok()) return Fail(secret.status().ToString());
  auto pool = respct::memnode::Pool::Open(f.pool, *size, respct::memnode::Pool::OpenMode::kReadWrite);
  if (!pool.ok()) return Fail(pool.status().ToString());
  spdlog::info("pool {} ({} MiB) on {}", f.pool, (*pool)->size() >> 20, (*pool)->MappingDescription());

  respct::memnode::ServerOptions opts;
  opts.listen_urls = f.listen;
  opts.ready_file = f.ready_file;
  opts.session.default_ring = *ring;
  respct::memnode::Server server(pool->get(), std::move(secret).value(), std::move(opts));
  if (auto s = server.Start(); !s.ok()) return Fail(s.ToString());
  if (auto s = server.Run(); !s.ok()) return Fail(s.ToString());
  return 0;
}
