// Control messages between a client and respct-memnode over a stream socket
// (TCP for tcp://, a unix socket for shm://; verbs uses the same payload structs
// in SENDs). Every message is a 16-byte FrameHeader then `length` payload bytes.
// All structs are little-endian, packed by construction (static_asserts), and
// copied as-is. A receiver checks magic, version, a known type, and that the
// length is exactly what the type needs (or within kMaxFramePayload for the
// variable ones) before it reads a byte of payload.
//
// Conversation:
//   C: Hello{version, client nonce, app}      S: Challenge{server nonce, server proof}
//   C: Auth{client proof}                     S: AuthOk | Error
//   C: Attach{regions, flags}                 S: AttachOk{epochs, ring, regions} (+ fd for shm)
//   then any of:
//   C: RingWrite{pos, bytes}     (tcp: record bytes written into the ring at pos; no reply)
//   C: Commit{epoch, positions, counts, checksum}   S: CommitAck  (epoch durable) | Error
//                                                 S: RingProgress (later: space freed by apply)
//   C: ReadImage{region, offset, length}      S: ImageSums, ImageData{offset, bytes} ... (one pair
//                                                or more) | Error
//   C: ListApps                               S: AppList
//   C: ListEpochs{app, from, to}              S: EpochList | Error
//   C: ListWrites{app, from, to}              S: WriteList ... (last one flagged) | Error
// Over rdma:// (verbs SEND/RECV carry the same frames, one frame per message):
//   a writer's AttachOk (ring_mode kRemote) is followed by RemoteRing{addr, rkey}:
//   the client RDMA-WRITEs its records straight into that window at slot(pos)
//   instead of sending RingWrite; Commit/CommitAck/RingProgress are unchanged.
//   ReadImage is answered with ImageGrant{offset, window} ... (one or more, in
//   order) instead of ImageData: the client RDMA-READs each window and answers
//   ImageReadDone{offset}, after which the memnode withdraws the window.
// Either way each piece is preceded by ImageSums, the checksums of the piece's
// whole pages (runtime/wire/image_sums.h), which the client checks after the
// bytes are in its memory.
// Proofs are libsodium crypto_auth (HMAC-SHA-512-256) under the shared secret:
//   server proof = MAC("respct-server" | client nonce | app)
//   client proof = MAC("respct-client" | server nonce | app)
// so each side proves the secret without sending it, and the proof binds the
// connection to one app: it can read and write that app's bytes and no other.
// An empty app name opens an admin session that may only ListApps, ListEpochs
// and ListWrites: metadata (epochs, which bytes changed), never the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"

namespace respct::wire {

inline constexpr uint32_t kFrameMagic = 0x46504352;  // "RCPF"
inline constexpr uint16_t kProtocolVersion = 2;  // 2: ImageSums before every image piece
inline constexpr uint32_t kMaxFramePayload = (1u << 20) + 64;  // one max record + a little
inline constexpr size_t kAppNameMax = 63;                       // bytes, without the NUL
inline constexpr size_t kNonceSize = 32;
inline constexpr size_t kProofSize = 32;   // crypto_auth_BYTES
inline constexpr uint32_t kMaxRegions = 32;

enum class MsgType : uint16_t {
  kHello = 1,
  kChallenge = 2,
  kAuth = 3,
  kAuthOk = 4,
  kError = 5,
  kAttach = 6,
  kAttachOk = 7,
  kRingWrite = 8,
  kCommit = 9,
  kCommitAck = 10,
  kRingProgress = 11,
  kReadImage = 12,
  kImageData = 13,
  kListApps = 14,
  kAppList = 15,
  kListEpochs = 16,
  kEpochList = 17,
  kListWrites = 18,
  kWriteList = 19,
  kRemoteRing = 20,
  kImageGrant = 21,
  kImageReadDone = 22,
  kImageSums = 23,
};
const char* MsgTypeName(MsgType t);

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t length;  // payload bytes that follow
  uint32_t reserved;
};
static_assert(sizeof(FrameHeader) == 16);

struct HelloMsg {
  uint16_t version;
  uint16_t app_len;
  uint32_t reserved;
  uint8_t client_nonce[kNonceSize];
  char app[64];  // app_len bytes used, rest zero
};
static_assert(sizeof(HelloMsg) == 104);

struct ChallengeMsg {
  uint8_t server_nonce[kNonceSize];
  uint8_t server_proof[kProofSize];
};

struct AuthMsg {
  uint8_t client_proof[kProofSize];
};

// Error: code is a Status::Code; the message (UTF-8) follows the struct.
struct ErrorMsg {
  uint32_t code;
  uint32_t message_len;
};

// One persisted region of an application, as the client declares it.
struct RegionDesc {
  uint32_t id;        // client-chosen, unique per app
  uint32_t flags;     // reserved, zero
  uint64_t size;      // bytes
  uint64_t base_addr; // the region's virtual address in the client (informational)
};
static_assert(sizeof(RegionDesc) == 24);

enum AttachFlags : uint32_t {
  kAttachWriter = 1u << 0,  // this connection will commit epochs (one writer per app)
  kAttachCreate = 1u << 1,  // create the app if it does not exist
  kAttachReset = 1u << 2,   // writer only: start the app over (image zero, no epochs)
  // Writer over verbs: the client makes its record bytes durable itself
  // (RDMA READ after its WRITEs, for PMem with DDIO off) before it commits.
  kAttachClientPersists = 1u << 3,
  // Writer: a writer token (kWriterTokenSize random bytes, fixed for the
  // life of the client process) follows the regions. A writer whose token
  // equals that of the app's attached writer takes the slot over, ending
  // the older session: it is the same process coming back on a new
  // connection after its old one went silent (a link cut swallowed the
  // FIN), which the memnode would otherwise keep, refusing the process as
  // busy, until TCP keepalive ends it a minute later. Any other writer is
  // still refused while one is attached.
  kAttachWriterToken = 1u << 4,
  // Writer: its generation (a u64, after the token if any). The memnode
  // keeps the highest generation that attached to each app: an attach with
  // a lower one is refused as fenced. A higher one finding a writer attached
  // is refused as busy, unless kAttachTakeOver: then it takes the slot over
  // (the attached writer is a process believed dead: frozen, cut off), whose
  // session ends. See DESIGN.md §5.
  kAttachGeneration = 1u << 5,
  kAttachTakeOver = 1u << 6,
};
inline constexpr uint32_t kWriterTokenSize = 16;

// Attach: `region_count` RegionDesc follow, then the writer token with
// kAttachWriterToken. A reader may send zero regions.
struct AttachMsg {
  uint32_t flags;
  uint32_t region_count;
  uint64_t ring_capacity;  // wanted on creation; 0 = memnode default
};

enum class RingMode : uint32_t {
  kInline = 1,  // record bytes travel in RingWrite messages (tcp)
  kShared = 2,  // client writes a shared staging ring (shm; fd passed with AttachOk)
  kRemote = 3,  // client RDMA-WRITEs into a registered ring (verbs; RemoteRing follows AttachOk)
};

// AttachOk: `region_count` RegionDesc follow (the app's layout in the pool).
struct AttachOkMsg {
  uint64_t app_id;
  uint64_t committed_epoch;  // last durable epoch (0: none yet)
  uint64_t applied_epoch;
  uint64_t ring_capacity;
  uint64_t ring_tail;        // where the next epoch's records start
  uint64_t ring_applied;     // everything before this is applied: free
  uint32_t region_count;
  uint32_t ring_mode;        // RingMode
};

// RingWrite: `length - 8` record bytes follow, to be placed at ring position `pos`.
struct RingWriteMsg {
  uint64_t pos;
};

// Commit: the client has placed the epoch's records in [first_pos, end_pos);
// the commit record goes at end_pos (after a pad, if RingCursor says so).
struct CommitMsg {
  uint64_t epoch;
  uint64_t first_pos;
  uint64_t end_pos;
  uint64_t record_count;
  uint64_t byte_count;
  uint64_t epoch_checksum;
};

struct CommitAckMsg {
  uint64_t epoch;
  uint64_t ring_tail;     // after the commit record
  uint64_t ring_applied;
};

struct RingProgressMsg {
  uint64_t applied_epoch;
  uint64_t ring_applied;
};

struct ReadImageMsg {
  uint32_t region_id;
  uint32_t reserved;
  uint64_t offset;
  uint64_t length;
};

// ImageData: bytes of the requested range starting at `offset` follow; the
// memnode sends as many as it takes to cover the request, in order.
struct ImageDataMsg {
  uint64_t offset;
};

struct AppSummary {
  char name[64];
  uint64_t app_id;
  uint64_t committed_epoch;
  uint64_t applied_epoch;
  uint64_t image_size;
  uint64_t ring_capacity;
  uint64_t ring_used;
  uint64_t last_commit_unix_ns;
  uint32_t region_count;
  uint32_t writer_attached;  // 1 when a writer is connected now
};

// AppList: a u32 count then `count` AppSummary.

// ListEpochs and ListWrites: which app and which epochs. An admin session
// names any app; an app session leaves `app` empty or names its own.
struct EpochQueryMsg {
  char app[64];  // NUL-padded
  uint64_t from_epoch;
  uint64_t to_epoch;
};

// One committed epoch from the app's epoch history (memnode/pool_layout.h).
struct EpochInfo {
  uint64_t epoch;
  uint64_t commit_unix_ns;
  uint64_t payload_bytes;
  uint64_t record_count;
  uint64_t first_pos;  // ring positions of its records, commit record included
  uint64_t end_pos;
};
static_assert(sizeof(EpochInfo) == 48);

// EpochList: the header, then `count` EpochInfo for the epochs in
// [from_epoch, to_epoch] the history still holds, oldest first.
struct EpochListMsg {
  uint64_t committed_epoch;
  uint64_t applied_epoch;
  uint32_t count;
  uint32_t reserved;
};
// At most this many epochs per query: the history's size, and an EpochList
// that always fits in one frame.
inline constexpr uint64_t kMaxEpochsPerQuery = 4096;

// ListWrites asks which bytes epochs from_epoch+1 .. to_epoch wrote, read back
// from their log records. The reply is one or more WriteList frames per epoch,
// in epoch order, each with up to kMaxRangesPerFrame ranges; the last frame of
// the reply carries kWriteListLast.
enum class WritesStatus : uint32_t {
  kPresent = 1,      // the ranges are the epoch's records
  kOverwritten = 2,  // its records are no longer (all) in the ring
  kNoHistory = 3,    // the epoch history no longer locates it
};
inline constexpr uint32_t kWriteListLast = 1u << 0;
struct WriteListMsg {
  uint64_t epoch;
  uint32_t status;  // WritesStatus
  uint32_t count;   // WrittenRange entries that follow
  uint32_t flags;
  uint32_t reserved;
};
struct WrittenRange {
  uint32_t region_id;
  uint32_t length;
  uint64_t offset;
};
static_assert(sizeof(WrittenRange) == 16);
inline constexpr uint32_t kMaxRangesPerFrame = 4096;

// What ListWrites returns for one epoch.
struct EpochWrites {
  uint64_t epoch = 0;
  WritesStatus status = WritesStatus::kNoHistory;
  std::vector<WrittenRange> ranges;
};

// Checks an EpochQueryMsg's epoch range: from <= to, at most
// kMaxEpochsPerQuery epochs, and a NUL in the name field.
Status CheckEpochQuery(const EpochQueryMsg& q);
// RemoteRing: the ring window a verbs writer RDMA-WRITEs into (ring_capacity
// bytes; slot arithmetic as in the pool ring). Only the connection attached
// as the app's writer can use the rkey: it is bound to that connection's
// protection domain.
struct RemoteRingMsg {
  uint64_t addr;
  uint64_t length;
  uint32_t rkey;
  uint32_t reserved;
};

// ImageGrant: image bytes [offset, offset+length) of the requested region may
// be RDMA-READ from the window {addr, rkey} until the client answers
// ImageReadDone{offset}.
struct ImageGrantMsg {
  uint64_t offset;
  uint64_t addr;
  uint64_t length;
  uint32_t rkey;
  uint32_t reserved;
};

struct ImageReadDoneMsg {
  uint64_t offset;
};

// ImageSums: the checksums of region pages [first_page, first_page + count),
// the whole pages of the piece that follows (wire::WholePages); `count`
// uint64 checksums follow. Sent before every ImageData and ImageGrant.
struct ImageSumsMsg {
  uint64_t first_page;
  uint64_t count;
};
inline constexpr uint64_t kMaxSumsPerFrame = (kMaxFramePayload - sizeof(ImageSumsMsg)) / sizeof(uint64_t);

// Checks a received frame header: magic, version, known type, and a length
// that fits the type. Returns Corruption naming what is wrong.
Status CheckFrameHeader(const FrameHeader& h);
FrameHeader MakeFrameHeader(MsgType type, uint32_t length);

// App names: 1..kAppNameMax bytes of [A-Za-z0-9._-], not starting with '.'.
Status ValidateAppName(std::string_view name);

}  // namespace respct::wire
