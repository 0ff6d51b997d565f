// Status and Result<T>: how every layer of respct reports failure.
//
// Modelled on LevelDB's Status: an OK status is a null pointer (free to copy and
// test on hot paths); an error carries a code and a message that names the cause
// in one line, so a tool can print it and exit. No exceptions cross a layer
// boundary, and none ever cross the preload boundary.
//
// This header is the bottom of the dependency order: wire, transport, memnode,
// runtime and tools may all include it; it includes only the standard library.
#pragma once

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace respct {

class Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument,  // caller passed something malformed (bad URL, bad flag)
    kCorruption,       // bytes failed a magic/version/checksum/bounds check
    kIOError,          // a system call failed (errno in the message)
    kNotFound,         // an app, file or epoch that does not exist
    kPermissionDenied, // authentication failed or access outside one's app
    kUnavailable,      // peer unreachable or connection lost: retry later
    kResourceExhausted,// ring full, pool full, too many apps
    kFailedPrecondition, // state does not allow the operation (e.g. a reset of an app with an image)
    kBusy,             // held by another client now (an app's one writer slot): retry shortly
    kFenced,           // a newer writer took the app over: this one must stop for good
  };

  Status() noexcept = default;
  Status(const Status& o) : rep_(o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr) {}
  Status& operator=(const Status& o) {
    if (this != &o) rep_ = o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string_view m) { return Status(Code::kInvalidArgument, m); }
  static Status Corruption(std::string_view m) { return Status(Code::kCorruption, m); }
  static Status IOError(std::string_view m) { return Status(Code::kIOError, m); }
  static Status NotFound(std::string_view m) { return Status(Code::kNotFound, m); }
  static Status PermissionDenied(std::string_view m) { return Status(Code::kPermissionDenied, m); }
  static Status Unavailable(std::string_view m) { return Status(Code::kUnavailable, m); }
  static Status ResourceExhausted(std::string_view m) { return Status(Code::kResourceExhausted, m); }
  static Status FailedPrecondition(std::string_view m) { return Status(Code::kFailedPrecondition, m); }
  static Status Busy(std::string_view m) { return Status(Code::kBusy, m); }
  static Status Fenced(std::string_view m) { return Status(Code::kFenced, m); }
  // An I/O error that names the call and errno, e.g. "open /x: No such file
  // or directory"; the errno stays available to callers (sys_errno).
  static Status FromErrno(std::string_view what, int err) {
    std::string m(what);
    m += ": ";
    m += std::strerror(err);
    Status st(err == ENOENT ? Code::kNotFound : IsPeerUnreachable(err) ? Code::kUnavailable : Code::kIOError, m);
    st.rep_->sys_errno = err;
    return st;
  }
  // An error the peer reported (an Error frame): its message already says
  // who reported it, so layers that name the peer leave it as it is.
  static Status FromPeer(Code code, std::string_view m) {
    Status st(code, m);
    st.rep_->from_peer = true;
    return st;
  }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsUnavailable() const { return code() == Code::kUnavailable; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsFenced() const { return code() == Code::kFenced; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsPermissionDenied() const { return code() == Code::kPermissionDenied; }
  // The errno of the failed system call (FromErrno), 0 for other errors.
  int sys_errno() const { return rep_ ? rep_->sys_errno : 0; }
  bool from_peer() const { return rep_ != nullptr && rep_->from_peer; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->message : kEmpty;
  }
  // "corruption: record checksum mismatch at ring position 4096" or "OK".
  std::string ToString() const;
  // Same code (and errno, origin), message prefixed with context:
  // "attach app bank: <message>".
  Status Annotate(std::string_view context) const {
    if (ok()) return Status();
    Status st(*this);
    st.rep_->message.insert(0, std::string(context) + ": ");
    return st;
  }

  static const char* CodeName(Code c);

 private:
  // errnos that mean the peer cannot be reached now (retry later).
  static bool IsPeerUnreachable(int err) {
    return err == ECONNREFUSED || err == ECONNRESET || err == EPIPE || err == ETIMEDOUT || err == EHOSTUNREACH ||
           err == ENETUNREACH || err == ECONNABORTED;
  }
  struct Rep {
    Code code;
    std::string message;
    int sys_errno = 0;
    bool from_peer = false;
  };
  Status(Code c, std::string_view m) : rep_(std::make_unique<Rep>(Rep{c, std::string(m)})) {}
  std::unique_ptr<Rep> rep_;
};

inline const char* Status::CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "I/O error";
    case Code::kNotFound: return "not found";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kUnavailable: return "unavailable";
    case Code::kResourceExhausted: return "resource exhausted";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kBusy: return "busy";
    case Code::kFenced: return "fenced";
  }
  return "unknown";
}

inline std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(rep_->code);
  s += ": ";
  s += rep_->message;
  return s;
}

// Result<T>: a value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace respct

// Propagate a failed Status out of the current function.
#define RESPCT_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::respct::Status _respct_st = (expr);       \
    if (!_respct_st.ok()) return _respct_st;    \
  } while (0)
