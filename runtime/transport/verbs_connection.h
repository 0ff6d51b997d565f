// VerbsConnection: one reliable-connected (RC) queue pair set up through
// librdmacm, with its protection domain, completion queue and completion
// channel. The verbs frame channel (SEND/RECV), the ring sink (RDMA WRITE)
// and image reads (RDMA READ) all post on it; it owns completion handling.
//
// Completions: WaitUntil polls the completion queue for a short burst (an
// epoch's WRITEs and its commit reply arrive back to back), then arms the
// completion channel and sleeps in poll(2) until an event, the connection
// manager reporting a disconnect, a Disconnect() from another thread, or the
// timeout: an idle connection costs no CPU.
//
// Send-queue accounting: every chain of work requests posted with PostSend
// ends with a signalled one; RC completes the send queue in order, so that
// completion retires the whole chain and the queue never overflows.
//
// Any failed completion breaks the connection for good (broken()): the
// status names the operation and ibv_wc_status_str, or says the peer left.
// Not thread-safe except Disconnect.
#pragma once

#include <rdma/rdma_cma.h>

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
  // Client: resolves `host`:`port` and creates the queue pair (not yet
  // connected: post receives, then call Connect). Errors are one line: no
  // RDMA device, port down, address or route resolution failure.
  static Result<std::unique_ptr<VerbsConnection>> Resolve(const std::string& host, uint16_t port, int timeout_ms);
  // Server: takes over `id` from a listener's CONNECT_REQUEST event and
  // creates its queue pair (post receives, then call Accept).
  static Result<std::unique_ptr<VerbsConnection>> ForRequest(rdma_cm_id* id, const rdma_conn_param& request);
  ~VerbsConnection();
  VerbsConnection(const VerbsConnection&) = delete;
  VerbsConnection& operator=(const VerbsConnection&) = delete;

  // Client: connects, bounded by `timeout_ms` (refusal is one line too).
  Status Connect(int timeout_ms);
  // Server: accepts the request this connection was made for.
  Status Accept();

  ibv_pd* pd() const { return pd_; }
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
  // (its status), or `timeout_ms` passes (< 0: no bound; kUnavailable).
  Status WaitUntil(const std::function<bool()>& ready, int timeout_ms);
  // Ends the connection: the peer is told, work requests flush, a waiting
  // thread wakes. Safe from any thread, more than once.
  void Disconnect();
  const Status& broken() const { return broken_; }

 private:
  VerbsConnection() = default;
  Status CreateQueuePair(rdma_cm_id* id);
  void Drain();
  void Complete(const ibv_wc& wc);
  void Fail(const Status& st);
  void HandleCmEvents();

  rdma_event_channel* events_ = nullptr;  // client only: the server's is its listener's
  rdma_cm_id* id_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* comp_ = nullptr;
  ibv_cq* cq_ = nullptr;
  int wake_fd_ = -1;
  rdma_conn_param conn_param_{};
  uint32_t max_inline_ = 0;
  uint32_t read_depth_ = 1;
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

}  // namespace respct
