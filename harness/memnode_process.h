// MemnodeProcess: a real respct-memnode subprocess for the tests and the
// benchmarks, on a pool in a fresh temporary directory, listening on
// tcp://127.0.0.1 and shm://<dir>/s.sock, and, where an RDMA device exists,
// rdma://127.0.0.1. The kernel picks the TCP ports (the memnode listens on
// port 0 and names the ports it got in its ready file), so tests running in
// parallel never race for one.
//
// Start() waits (bounded) for the --ready-file; Kill() is SIGKILL + reap, the
// crash the protocol must survive; Restart() brings it back on the same pool,
// port and socket. The temporary directory goes away with the object.
// The pool lives in $RESPCT_TEST_TMPDIR, else $RESPCT_GUEST_PMEM_DIR (the
// guest tier's DAX mount), else on /dev/shm when available: kill -9 of a
// process loses no page-cache data, so the crash semantics are the same as
// on disk and msync does not make every commit wait for the disk.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "memnode/ready_file.h"
#include "runtime/base/status.h"
#include "runtime/transport/secret.h"

namespace respct::test {

// True when ibv_get_device_list finds a device (rdma:// can be tested).
bool HaveRdmaDevice();

// A loopback TCP port the kernel just handed out (bound, read back, closed):
// nobody listens on it until someone binds it again. For "nothing answers
// there" tests only: a server should listen on port 0 instead.
uint16_t FreeLoopbackPort();

class MemnodeProcess {
 public:
  struct Options {
    std::string binary;             // path of respct-memnode
    std::string ring_size = "8M";   // --ring-size: default ring of new apps
    std::string pool_size = "2G";   // --size of the new pool (sparse)
    std::string log_level = "warn";
    // RLIMIT_NOFILE of the memnode (soft and hard); 0: the test's own.
    unsigned max_open_files = 0;
    // The secret to use, read from this file; empty: a new random one.
    // Replicas of one app share one (a writer proves one secret to all).
    std::string secret_file{};
  };

  explicit MemnodeProcess(Options options);
  ~MemnodeProcess();
  MemnodeProcess(const MemnodeProcess&) = delete;
  MemnodeProcess& operator=(const MemnodeProcess&) = delete;

  // The tcp/rdma URLs are known once Start() succeeded.
  Status Start();
  // SIGKILL and reap.
  void Kill();
  // SIGKILL only, safe from another thread while the owner is busy; reap with Kill().
  void SendKill();
  Status Restart() {
    Kill();
    return Start();
  }
  // True while the process has not exited (it is reaped if it has).
  bool Alive();

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string tcp_url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string shm_url() const { return "shm://" + dir_ + "/s.sock"; }
  std::string rdma_url() const { return "rdma://127.0.0.1:" + std::to_string(rdma_port_); }
  std::string pool_path() const { return dir_ + "/pool"; }
  std::string secret_path() const { return dir_ + "/secret"; }
  const Secret& secret() const { return secret_; }
  // The last lines of the memnode's stderr, for failure messages.
  std::string LogTail() const;

 private:
  Status LearnPorts(const memnode::ReadyFile& ready);

  Options options_;
  std::string dir_;
  uint16_t port_ = 0;       // 0 until the first start: the kernel's choice
  uint16_t rdma_port_ = 0;  // its bootstrap connections are TCP too
  Secret secret_;
  pid_t pid_ = -1;
};

}  // namespace respct::test
