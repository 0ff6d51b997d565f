#include "memnode/ring_intake.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

namespace respct::memnode {

Status RingIntake::Write(App* app, uint64_t pos, const uint8_t* data, size_t len) {
  (void)app;
  (void)pos;
  (void)data;
  (void)len;
  return Status::FailedPrecondition(std::string("RingWrite on a ") +
                                    (mode() == wire::RingMode::kRemote ? "remote-ring (rdma)" : "shared-ring (shm)") +
                                    " session");
}

Status InlineIntake::Write(App* app, uint64_t pos, const uint8_t* data, size_t len) {
  return app->RingWrite(pos, data, len);
}

Status InlineIntake::Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) {
  return app->Commit(m, /*staging=*/nullptr, ack);
}

Result<std::unique_ptr<SharedStagingIntake>> SharedStagingIntake::Create(uint64_t capacity, int* fd) {
  const int mfd = memfd_create("respct-staging", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return Status::FromErrno("memfd_create", errno);
  // Sealed against resizing: a client that shrank it would make our reads of
  // the mapping fault (SIGBUS) and take the whole memnode down.
  if (ftruncate(mfd, static_cast<off_t>(capacity)) != 0 ||
      fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    const int err = errno;
    close(mfd);
    return Status::FromErrno("staging ring", err);
  }
  void* p = mmap(nullptr, capacity, PROT_READ, MAP_SHARED, mfd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    close(mfd);
    return Status::FromErrno("mmap staging ring", err);
  }
  *fd = mfd;
  return std::unique_ptr<SharedStagingIntake>(new SharedStagingIntake(static_cast<const uint8_t*>(p), capacity));
}

SharedStagingIntake::~SharedStagingIntake() { munmap(const_cast<uint8_t*>(staging_), size_); }

Status SharedStagingIntake::Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) {
  return app->Commit(m, staging_, ack);
}

Result<std::unique_ptr<RemoteRingIntake>> RemoteRingIntake::Create(App* app, PeerMemory* peer, bool client_persists,
                                                                   const std::string& who) {
  std::unique_ptr<RemoteRingIntake> intake(new RemoteRingIntake());
  auto w = peer->Expose(app->ring_base(), app->ring_capacity(), /*writable=*/true);
  if (!w.ok()) {
    // fsdax memory cannot be pinned for RDMA without on-demand paging: take
    // the records in DRAM and copy them at Commit, as for shm://.
    spdlog::warn("{}: app '{}': {}; the writer RDMA-WRITEs into a DRAM staging ring copied at each commit", who,
                 app->name(), w.status().message());
    void* p = mmap(nullptr, app->ring_capacity(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return Status::FromErrno("mmap staging ring", errno);
    intake->staging_ = static_cast<uint8_t*>(p);
    intake->staging_size_ = app->ring_capacity();
    w = peer->Expose(intake->staging_, intake->staging_size_, /*writable=*/true);
    if (!w.ok()) return w.status();
  }
  intake->window_ = *w;
  intake->exposed_ = true;
  // Durable by the client's READ only where its WRITEs land in PMem directly.
  intake->records_durable_ = client_persists && intake->staging_ == nullptr && app->pool_is_pmem();
  return intake;
}

RemoteRingIntake::~RemoteRingIntake() {
  if (staging_ != nullptr) munmap(staging_, staging_size_);
}

std::string RemoteRingIntake::description() const {
  if (staging_ != nullptr) return "RDMA WRITE into a staging ring";
  return records_durable_ ? "RDMA WRITE into the pool ring, client-side durability" : "RDMA WRITE into the pool ring";
}

Status RemoteRingIntake::Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) {
  return app->Commit(m, staging_, ack, records_durable_);
}

void RemoteRingIntake::Withdraw(PeerMemory* peer) {
  if (!exposed_) return;
  peer->Withdraw(window_);
  exposed_ = false;
}

wire::RemoteRingMsg RemoteRingIntake::window_message() const {
  return wire::RemoteRingMsg{window_.addr, window_.length, window_.rkey, 0};
}

}  // namespace respct::memnode
