// VerbsListener: the memnode side of rdma://HOST:PORT. A librdmacm listening
// id and its event channel; the memnode's accept loop polls fd() and calls
// HandleEvent, which accepts connection requests (each becomes a
// VerbsChannel for a Session thread) and turns a peer's disconnect into a
// local one, so the session blocked on that connection wakes up and ends.
//
// Every connection accepted here gets its events on this listener's channel:
// destroy every channel it returned before the listener, on the thread that
// calls HandleEvent (so no event is ever delivered for a destroyed id).
#pragma once

#include <rdma/rdma_cma.h>

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/base/status.h"
#include "runtime/transport/verbs_channel.h"

namespace respct {

class VerbsListener {
 public:
  // Binds and listens; fails with one line when there is no RDMA device or
  // the address is not an RDMA-capable local address.
  static Result<std::unique_ptr<VerbsListener>> Listen(const std::string& host, uint16_t port);
  ~VerbsListener();
  VerbsListener(const VerbsListener&) = delete;
  VerbsListener& operator=(const VerbsListener&) = delete;

  int fd() const { return events_->fd; }
  // Handles one pending event: a new connection comes back accepted; other
  // events return nullptr. A failed accept is an error for that request only.
  Result<std::unique_ptr<VerbsChannel>> HandleEvent();

 private:
  VerbsListener() = default;
  rdma_event_channel* events_ = nullptr;
  rdma_cm_id* id_ = nullptr;
};

}  // namespace respct
