#include "memnode/session.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "runtime/transport/verbs_channel.h"

namespace respct::memnode {
namespace {

// ImageData pieces: 1 MiB of bytes each, which with the 8-byte header stays
// within wire::kMaxFramePayload.
constexpr size_t kImagePiece = 1u << 20;
static_assert(sizeof(wire::ImageDataMsg) + kImagePiece <= wire::kMaxFramePayload);
// rdma:// image reads: the largest range registered for one ImageGrant (it
// stays pinned until the client has read it), and the copy buffer used when
// the pool itself cannot be registered (fsdax without on-demand paging).
// The checksums of a grant's pages travel in one ImageSums message first,
// which over verbs must fit one receive buffer (64 MiB of pages did not:
// 16 K checksums, 128 KiB).
constexpr size_t kGrantPiece = 16u << 20;
constexpr size_t kImageBounce = 8u << 20;
constexpr size_t SumsMessageBytes(size_t piece) {
  return sizeof(wire::FrameHeader) + sizeof(wire::ImageSumsMsg) + (piece / wire::kImageSumPage + 1) * sizeof(uint64_t);
}
static_assert(kGrantPiece / wire::kImageSumPage + 1 <= wire::kMaxSumsPerFrame);
static_assert(SumsMessageBytes(kGrantPiece) <= VerbsChannel::kMaxMessage);
static_assert(SumsMessageBytes(kImageBounce) <= VerbsChannel::kMaxMessage);

}  // namespace

Session::Session(FrameChannel* sock, Pool* pool, const Secret* secret, const SessionOptions& opts, bool unix_socket,
                 std::string peer)
    : sock_(sock), pool_(pool), secret_(secret), opts_(opts), unix_socket_(unix_socket), peer_(std::move(peer)) {}

Session::~Session() { ReleaseApp(); }

void Session::ReleaseApp() {
  // Registrations end before the memory they cover is released, and before
  // the writer slot is: a new writer must never share the ring with a peer
  // that can still WRITE into it.
  if (PeerMemory* peer = sock_->peer_memory(); peer != nullptr) {
    if (intake_ != nullptr) intake_->Withdraw(peer);
    if (image_bounce_ != nullptr) peer->Withdraw(image_bounce_window_);
  }
  image_bounce_.reset();
  if (writer_) {
    app_->DetachWriter();
    writer_ = false;
    spdlog::info("{}: writer of app '{}' detached", peer_, app_name_);
  }
}

void Session::Run() {
  Status s = Handshake();
  if (s.ok()) s = Serve();
  // Before the peer can learn that the session is over (an Error, end of
  // stream): a client that reconnects at once, as a restarted program does,
  // finds the writer slot free.
  ReleaseApp();
  if (s.IsUnavailable()) {
    spdlog::debug("{}: connection ended: {}", peer_, s.message());
  } else {
    spdlog::warn("{}{}: {}", peer_, app_name_.empty() ? "" : " (app '" + app_name_ + "')", s.ToString());
    // Best effort: the peer may already be gone.
    if (sock_->SendError(s).ok()) (void)sock_->Flush(1000);
  }
  // The peer sees end of stream now; the channel itself is released by the
  // server after this thread is joined, so a descriptor is never reused under a shutdown().
  sock_->Shutdown();
}

Status Session::ReceiveNext(Frame* f) {
  while (progress_owed_) {
    const Status st = sock_->WaitForMessage(kProgressPollMs);
    if (st.ok()) return sock_->Receive(f, opts_.message_timeout_ms);
    if (st.sys_errno() != ETIMEDOUT) return st;
    RESPCT_RETURN_IF_ERROR(SendLateProgress());
  }
  RESPCT_RETURN_IF_ERROR(sock_->WaitForMessage(-1));
  return sock_->Receive(f, opts_.message_timeout_ms);
}

void Session::Told(uint64_t applied_epoch, uint64_t committed_epoch) {
  told_applied_epoch_ = applied_epoch;
  progress_owed_ = applied_epoch < committed_epoch;
}

Status Session::SendProgress(const wire::RingProgressMsg& p, uint64_t committed_epoch) {
  Told(p.applied_epoch, committed_epoch);
  return sock_->SendStruct(wire::MsgType::kRingProgress, p);
}

Status Session::SendLateProgress() {
  const AppPosition pos = app_->Position();
  if (pos.applied_epoch == told_applied_epoch_) return Status::OK();
  return SendProgress(wire::RingProgressMsg{pos.applied_epoch, pos.ring_applied}, pos.committed_epoch);
}

Status Session::Handshake() {
  Frame f;
  RESPCT_RETURN_IF_ERROR(sock_->Receive(&f, opts_.handshake_timeout_ms));
  if (f.type() != wire::MsgType::kHello)
    return Status::Corruption(std::string("expected Hello, got ") + wire::MsgTypeName(f.type()));
  const auto hello = f.As<wire::HelloMsg>();
  if (hello.version != wire::kProtocolVersion)
    return Status::InvalidArgument("unsupported protocol version " + std::to_string(hello.version) +
                                   " (this memnode speaks " + std::to_string(wire::kProtocolVersion) + ")");
  if (hello.app_len > wire::kAppNameMax) return Status::InvalidArgument("app name too long");
  app_name_.assign(hello.app, hello.app_len);
  if (!app_name_.empty()) RESPCT_RETURN_IF_ERROR(wire::ValidateAppName(app_name_));

  wire::ChallengeMsg ch{};
  RESPCT_RETURN_IF_ERROR(Secret::RandomNonce(ch.server_nonce));
  const Secret::Proof proof = secret_->Prove(kServerProofLabel, hello.client_nonce, app_name_);
  std::memcpy(ch.server_proof, proof.data(), proof.size());
  RESPCT_RETURN_IF_ERROR(sock_->SendStruct(wire::MsgType::kChallenge, ch));

  RESPCT_RETURN_IF_ERROR(sock_->Receive(&f, opts_.handshake_timeout_ms));
  if (f.type() != wire::MsgType::kAuth)
    return Status::Corruption(std::string("expected Auth, got ") + wire::MsgTypeName(f.type()));
  const auto auth = f.As<wire::AuthMsg>();
  if (!secret_->Verify(auth.client_proof, kClientProofLabel, ch.server_nonce, app_name_))
    return Status::PermissionDenied(app_name_.empty() ? std::string("authentication failed for an admin session")
                                                      : "authentication failed for app '" + app_name_ + "'");
  spdlog::debug("{}: authenticated {}", peer_, app_name_.empty() ? "admin session" : "app '" + app_name_ + "'");
  return sock_->Send(wire::MsgType::kAuthOk, nullptr, 0);
}

Status Session::Serve() {
  Frame f;
  while (true) {
    RESPCT_RETURN_IF_ERROR(ReceiveNext(&f));
    const wire::MsgType t = f.type();
    if (t == wire::MsgType::kListApps) {
      RESPCT_RETURN_IF_ERROR(HandleListApps());
      continue;
    }
    if (t == wire::MsgType::kListEpochs) {
      RESPCT_RETURN_IF_ERROR(HandleListEpochs(f));
      continue;
    }
    if (t == wire::MsgType::kListWrites) {
      RESPCT_RETURN_IF_ERROR(HandleListWrites(f));
      continue;
    }
    if (app_name_.empty())
      return Status::PermissionDenied(std::string("an admin session may only list apps and epochs, not send ") +
                                      wire::MsgTypeName(t));
    if (t == wire::MsgType::kAttach) {
      if (app_ != nullptr) return Status::FailedPrecondition("already attached");
      RESPCT_RETURN_IF_ERROR(HandleAttach(f));
      continue;
    }
    if (app_ == nullptr)
      return Status::FailedPrecondition(std::string(wire::MsgTypeName(t)) + " before Attach");
    switch (t) {
      case wire::MsgType::kRingWrite: RESPCT_RETURN_IF_ERROR(HandleRingWrite(f)); break;
      case wire::MsgType::kCommit: RESPCT_RETURN_IF_ERROR(HandleCommit(f)); break;
      case wire::MsgType::kReadImage: RESPCT_RETURN_IF_ERROR(HandleReadImage(f)); break;
      default:
        return Status::Corruption(std::string("unexpected ") + wire::MsgTypeName(t) + " message from a client");
    }
  }
}

Status Session::HandleAttach(const Frame& f) {
  const auto msg = f.As<wire::AttachMsg>();
  const bool has_token = (msg.flags & wire::kAttachWriterToken) != 0;
  const bool has_generation = (msg.flags & wire::kAttachGeneration) != 0;
  const uint64_t token_at = sizeof msg + uint64_t{msg.region_count} * sizeof(wire::RegionDesc);
  const uint64_t generation_at = token_at + (has_token ? wire::kWriterTokenSize : 0);
  if (msg.region_count > wire::kMaxRegions ||
      f.payload.size() != generation_at + (has_generation ? sizeof(uint64_t) : 0))
    return Status::Corruption("Attach message length does not match its region count");
  WriterToken token{};
  if (has_token) std::memcpy(token.data(), f.payload.data() + token_at, token.size());
  uint64_t generation = 0;
  if (has_generation) std::memcpy(&generation, f.payload.data() + generation_at, sizeof generation);
  Pool::AttachRequest req;
  req.name = app_name_;
  req.regions.resize(msg.region_count);
  if (msg.region_count != 0)
    std::memcpy(req.regions.data(), f.payload.data() + sizeof msg, msg.region_count * sizeof(wire::RegionDesc));
  req.create = (msg.flags & wire::kAttachCreate) != 0;
  req.reset = (msg.flags & wire::kAttachReset) != 0;
  if (req.reset && (msg.flags & wire::kAttachWriter) == 0)
    return Status::InvalidArgument("only a writer may reset an app");
  if (req.reset) req.create = true;
  req.ring_capacity = msg.ring_capacity;
  req.default_ring = opts_.default_ring;
  auto app = pool_->Attach(req);
  if (!app.ok()) return app.status();

  const bool writer = (msg.flags & wire::kAttachWriter) != 0;
  AppPosition pos;
  if (writer) {
    // The channel outlives the writer slot (ReleaseApp detaches before the
    // server releases the channel), so another session may shut it down
    // while this one is the writer.
    RESPCT_RETURN_IF_ERROR((*app)->AttachWriter(&pos, token, [chan = sock_] { chan->Shutdown(); }, generation,
                                                (msg.flags & wire::kAttachTakeOver) != 0));
    writer_ = true;
  } else {
    pos = (*app)->Position();
  }
  app_ = *app;

  int fd = -1;
  RemoteRingIntake* remote = nullptr;
  if (writer) {
    PeerMemory* peer = sock_->peer_memory();
    if (unix_socket_) {
      auto shared = SharedStagingIntake::Create(pos.ring_capacity, &fd);
      if (!shared.ok()) return shared.status();
      intake_ = std::move(*shared);
    } else if (peer != nullptr) {
      auto r = RemoteRingIntake::Create(app_, peer, (msg.flags & wire::kAttachClientPersists) != 0, peer_);
      if (!r.ok()) return r.status();
      remote = r->get();
      intake_ = std::move(*r);
    } else {
      intake_ = std::make_unique<InlineIntake>();
    }
  }
  wire::AttachOkMsg ok{};
  ok.app_id = app_->app_id();
  ok.committed_epoch = pos.committed_epoch;
  ok.applied_epoch = pos.applied_epoch;
  ok.ring_capacity = pos.ring_capacity;
  ok.ring_tail = pos.ring_tail;
  ok.ring_applied = pos.ring_applied;
  ok.region_count = static_cast<uint32_t>(app_->regions().size());
  ok.ring_mode = static_cast<uint32_t>(intake_ != nullptr ? intake_->mode() : wire::RingMode::kInline);
  std::vector<wire::RegionDesc> regions;
  for (const RegionInfo& r : app_->regions()) regions.push_back(wire::RegionDesc{r.id, 0, r.size, r.base_addr});
  Status s = sock_->Send(wire::MsgType::kAttachOk, &ok, sizeof ok, regions.data(),
                         regions.size() * sizeof(wire::RegionDesc), fd);
  if (fd >= 0) close(fd);
  if (s.ok() && remote != nullptr) s = sock_->SendStruct(wire::MsgType::kRemoteRing, remote->window_message());
  if (writer) Told(pos.applied_epoch, pos.committed_epoch);
  if (s.ok())
    spdlog::info("{}: {} attached to app '{}' (committed epoch {}, {})", peer_, writer ? "writer" : "reader",
                 app_name_, pos.committed_epoch, intake_ != nullptr ? intake_->description() : "reads only");
  return s;
}

Status Session::HandleRingWrite(const Frame& f) {
  if (!writer_) return Status::PermissionDenied("RingWrite from a session that is not the app's writer");
  const auto msg = f.As<wire::RingWriteMsg>();
  return intake_->Write(app_, msg.pos, f.payload.data() + sizeof msg, f.payload.size() - sizeof msg);
}

Status Session::HandleCommit(const Frame& f) {
  if (!writer_) return Status::PermissionDenied("Commit from a session that is not the app's writer");
  const auto msg = f.As<wire::CommitMsg>();
  wire::CommitAckMsg ack;
  RESPCT_RETURN_IF_ERROR(intake_->Commit(app_, msg, &ack));
  RESPCT_RETURN_IF_ERROR(sock_->SendStruct(wire::MsgType::kCommitAck, ack));
  wire::RingProgressMsg progress;
  RESPCT_RETURN_IF_ERROR(app_->ApplyCommitted(&progress));
  return SendProgress(progress, ack.epoch);
}

Status Session::SendSums(const App::ImagePiece& piece, uint64_t offset, size_t len) {
  // The whole pages of [offset, offset + len) lie inside the piece's own.
  const wire::PageSpan whole = wire::WholePages(offset, len, piece.region_size);
  const wire::ImageSumsMsg h{whole.first, whole.count()};
  return sock_->Send(wire::MsgType::kImageSums, &h, sizeof h, piece.sums + (whole.first - piece.first_page),
                     whole.count() * sizeof(uint64_t));
}

// A refusal that changed nothing (a bad range, a damaged image) is reported
// and the session goes on; a failure once pieces were sent ends it.
static bool RefusedBeforeSending(const Status& s, bool sent) {
  return !s.ok() && !sent && (s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kCorruption);
}

Status Session::HandleReadImage(const Frame& f) {
  const auto msg = f.As<wire::ReadImageMsg>();
  if (PeerMemory* peer = sock_->peer_memory(); peer != nullptr) return GrantImage(msg, peer);
  bool sending = false;
  Status s = app_->ReadImage(msg.region_id, msg.offset, msg.length, kImagePiece, [&](const App::ImagePiece& piece) {
    sending = true;
    RESPCT_RETURN_IF_ERROR(SendSums(piece, piece.offset, piece.len));
    const wire::ImageDataMsg h{piece.offset};
    return sock_->Send(wire::MsgType::kImageData, &h, sizeof h, piece.data, piece.len);
  });
  if (RefusedBeforeSending(s, sending)) return sock_->SendError(s);
  return s;
}

Status Session::GrantAndWait(const App::ImagePiece& piece, uint64_t offset, const RemoteWindow& w) {
  RESPCT_RETURN_IF_ERROR(SendSums(piece, offset, w.length));
  const wire::ImageGrantMsg grant{offset, w.addr, w.length, w.rkey, 0};
  RESPCT_RETURN_IF_ERROR(sock_->SendStruct(wire::MsgType::kImageGrant, grant));
  Frame f;
  RESPCT_RETURN_IF_ERROR(sock_->Expect(wire::MsgType::kImageReadDone, &f, opts_.message_timeout_ms));
  if (f.As<wire::ImageReadDoneMsg>().offset != offset)
    return Status::Corruption("ImageReadDone for offset " + std::to_string(f.As<wire::ImageReadDoneMsg>().offset) +
                              ", granted offset " + std::to_string(offset));
  return Status::OK();
}

Status Session::GrantImage(const wire::ReadImageMsg& msg, PeerMemory* peer) {
  bool granted = false;
  Status s = app_->ReadImage(msg.region_id, msg.offset, msg.length, kGrantPiece, [&](const App::ImagePiece& piece) {
    granted = true;
    // The image is registered read-only for this read only (the app's
    // mutex keeps it unchanged meanwhile)...
    auto w = peer->Expose(const_cast<uint8_t*>(piece.data), piece.len, /*writable=*/false);
    if (w.ok()) {
      Status st = GrantAndWait(piece, piece.offset, *w);
      peer->Withdraw(*w);
      return st;
    }
    // ... or copied through a registered buffer when it cannot be.
    if (image_bounce_ == nullptr) {
      image_bounce_.reset(new uint8_t[kImageBounce]);
      auto b = peer->Expose(image_bounce_.get(), kImageBounce, /*writable=*/false);
      if (!b.ok()) return b.status();
      image_bounce_window_ = *b;
    }
    for (size_t done = 0; done < piece.len;) {
      const size_t n = std::min(kImageBounce, piece.len - done);
      std::memcpy(image_bounce_.get(), piece.data + done, n);
      RemoteWindow window = image_bounce_window_;
      window.length = n;
      RESPCT_RETURN_IF_ERROR(GrantAndWait(piece, piece.offset + done, window));
      done += n;
    }
    return Status::OK();
  });
  if (RefusedBeforeSending(s, granted)) return sock_->SendError(s);
  return s;
}

Status Session::HandleListApps() {
  const std::vector<wire::AppSummary> apps = pool_->ListApps();
  const uint32_t count = static_cast<uint32_t>(apps.size());
  return sock_->Send(wire::MsgType::kAppList, &count, sizeof count, apps.data(), apps.size() * sizeof(wire::AppSummary));
}

Result<App*> Session::QueriedApp(const wire::EpochQueryMsg& q) const {
  RESPCT_RETURN_IF_ERROR(wire::CheckEpochQuery(q));
  std::string name(q.app);
  if (!app_name_.empty()) {
    if (!name.empty() && name != app_name_)
      return Status::PermissionDenied("a session of app '" + app_name_ + "' cannot query app '" + name + "'");
    name = app_name_;
  }
  RESPCT_RETURN_IF_ERROR(wire::ValidateAppName(name));
  App* app = pool_->Find(name);
  if (app == nullptr) return Status::NotFound("no app '" + name + "' in the pool");
  RESPCT_RETURN_IF_ERROR(app->health());
  return app;
}

// A query that cannot be answered changes nothing: it gets an Error and the
// session goes on; only a failure to send ends it.
Status Session::HandleListEpochs(const Frame& f) {
  const auto q = f.As<wire::EpochQueryMsg>();
  auto app = QueriedApp(q);
  if (!app.ok()) return sock_->SendError(app.status());
  const std::vector<wire::EpochInfo> epochs = (*app)->EpochHistory(q.from_epoch, q.to_epoch);
  const AppPosition pos = (*app)->Position();
  const wire::EpochListMsg head{pos.committed_epoch, pos.applied_epoch, static_cast<uint32_t>(epochs.size()), 0};
  return sock_->Send(wire::MsgType::kEpochList, &head, sizeof head, epochs.data(),
                     epochs.size() * sizeof(wire::EpochInfo));
}

Status Session::HandleListWrites(const Frame& f) {
  const auto q = f.As<wire::EpochQueryMsg>();
  auto app = QueriedApp(q);
  if (!app.ok()) return sock_->SendError(app.status());
  auto writes = (*app)->WrittenRanges(q.from_epoch, q.to_epoch);
  if (!writes.ok()) return sock_->SendError(writes.status());
  for (size_t i = 0; i < writes->size(); ++i) {
    const wire::EpochWrites& w = (*writes)[i];
    size_t sent = 0;
    do {
      const size_t n = std::min<size_t>(wire::kMaxRangesPerFrame, w.ranges.size() - sent);
      const bool last = i + 1 == writes->size() && sent + n == w.ranges.size();
      const wire::WriteListMsg head{w.epoch, static_cast<uint32_t>(w.status), static_cast<uint32_t>(n),
                                    last ? wire::kWriteListLast : 0u, 0};
      RESPCT_RETURN_IF_ERROR(sock_->Send(wire::MsgType::kWriteList, &head, sizeof head, w.ranges.data() + sent,
                                         n * sizeof(wire::WrittenRange)));
      sent += n;
    } while (sent < w.ranges.size());
  }
  return Status::OK();
}

}  // namespace respct::memnode
