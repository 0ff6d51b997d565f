// VerbsConnection: one reliable-connected (RC) queue pair with its protection
// domain, completion queue and completion channel. The verbs frame channel
// (SEND/RECV), the ring sink (RDMA WRITE) and image reads (RDMA READ) all
// post on it; it owns completion handling.
//
// Connection set-up: a TCP "bootstrap" connection to the rdma:// HOST:PORT
// carries the two queue pairs' addresses (QPN, PSN, GID, READ depths); each
// side finds its RDMA device, port and RoCE GID from the local IP address of
// that TCP connection, then moves its queue pair to RTS. (librdmacm's route
// resolution fails with ENODEV for Soft-RoCE on the loopback in the 6.1
// guest kernel, rping included; this exchange is what perftest does by
// default and works on RoCE NICs alike.) The bootstrap socket stays open:
// its end of stream is how each side learns the other one left (kill -9
// included), and its shutdown is how Disconnect tells the peer.
//
// Completions: WaitUntil polls the completion queue for a short burst (an
// epoch's WRITEs and its commit reply arrive back to back), then arms the
// completion channel and sleeps in poll(2) until an event, the peer leaving,
// a Disconnect() from another thread, or the timeout: an idle connection
// costs no CPU.
//
// Send-queue accounting: every chain of work requests posted with PostSend
// ends with a signalled one; RC completes the send queue in order, so that
// completion retires the whole chain and the queue never overflows.
//
// Any failed completion breaks the connection for good (broken()): the
// status names the operation and ibv_wc_status_str, or says the peer left.
// Not thread-safe except Disconnect.
#pragma once

#include <infiniband/verbs.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "runtime/base/status.h"

namespace respct {

class VerbsConnection {
 public:
  // Client: connects the bootstrap socket to `host`:`port` and creates the
  // queue pair on the device that owns the local address (post receives,
  // then Establish). Errors are one line: no RDMA device, no device for the
  // address, port down, connection refused.
  static Result<std::unique_ptr<VerbsConnection>> Dial(const std::string& host, uint16_t port, int timeout_ms);
  // Server: takes over an accepted bootstrap socket `fd`.
  static Result<std::unique_ptr<VerbsConnection>> ForAccepted(int fd);
  ~VerbsConnection();
  VerbsConnection(const VerbsConnection&) = delete;
  VerbsConnection& operator=(const VerbsConnection&) = delete;

  // Exchanges queue-pair addresses with the peer and moves the queue pair to
  // RTS. Post the receives first: the peer may SEND as soon as it is done.
  Status Establish(int timeout_ms);

  uint32_t max_inline() const { return max_inline_; }
  // RDMA READs this side may have outstanding.
  uint32_t read_depth() const { return read_depth_; }

  // Registers [addr, addr+len) in this connection's protection domain.
  Result<ibv_mr*> Register(void* addr, size_t len, int access, const std::string& what);

  // Posts `count` chained send-queue work requests starting at `first`; the
  // last must be IBV_SEND_SIGNALED. `*done` is incremented when it completes.
  // Waits while the send queue lacks room.
  Status PostSend(ibv_send_wr* first, uint32_t count, const char* op, uint64_t* done);
  // Posts one receive buffer; its completion is reported by PopReceived with `slot`.
  Status PostRecv(uint32_t slot, void* addr, uint32_t len, uint32_t lkey);
  struct Received {
    uint32_t slot;
    uint32_t bytes;
  };
  bool PopReceived(Received* out);
  bool HasReceived() const { return !received_.empty(); }

  // Handles completions until `ready()` holds (OK), the connection breaks
  // (its status), or `timeout_ms` passes (< 0: no bound; kUnavailable, sys_errno ETIMEDOUT).
  Status WaitUntil(const std::function<bool()>& ready, int timeout_ms);
  // Ends the connection: the peer is told, work requests flush, a waiting
  // thread wakes. Safe from any thread, more than once.
  void Disconnect();
  const Status& broken() const { return broken_; }

 private:
  // What each side tells the other over the bootstrap socket.
  struct QpAddress {
    uint32_t magic;
    uint32_t qpn;
    uint32_t psn;
    uint32_t initiator_depth;      // READs it will have outstanding
    uint32_t responder_resources;  // READs it accepts outstanding
    uint32_t mtu;                  // enum ibv_mtu
    uint8_t gid[16];
  };

  VerbsConnection() = default;
  // Finds the device, port and GID of the bootstrap socket's local address
  // and creates the queue pair there (state INIT).
  Status Open();
  void Drain();
  void Complete(const ibv_wc& wc);
  void Fail(const Status& st);
  void CheckBootstrap();

  int boot_fd_ = -1;
  ibv_context* ctx_ = nullptr;
  uint8_t port_num_ = 0;
  uint32_t gid_index_ = 0;
  ibv_gid gid_{};
  ibv_mtu mtu_ = IBV_MTU_1024;
  uint32_t psn_ = 0;
  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* comp_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  int wake_fd_ = -1;
  uint32_t max_inline_ = 0;
  uint32_t read_depth_ = 1;
  uint32_t responder_resources_ = 1;
  uint32_t sq_depth_ = 0;
  uint32_t sq_inflight_ = 0;
  struct SendChain {
    uint32_t count;
    const char* op;
    uint64_t* done;
  };
  std::deque<SendChain> sq_chains_;
  std::deque<Received> received_;
  std::atomic<bool> disconnected_{false};
  Status broken_;
};

// Why there is no usable device, or OK: for clear one-line errors up front.
Status CheckRdmaDevicePresent();

// Where an IP address lives on the RDMA side: the device and port that have
// its RoCE GID (IPv4 as ::ffff:a.b.c.d; RoCE v2 preferred) and that GID's index.
struct RdmaPortAddress {
  std::string device;
  uint8_t port = 0;
  uint32_t gid_index = 0;
};
Result<RdmaPortAddress> FindRdmaPort(const std::string& ip);

}  // namespace respct
