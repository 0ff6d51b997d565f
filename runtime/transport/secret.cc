#include "runtime/transport/secret.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "runtime/base/make_dirs.h"

namespace respct {
namespace {

constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxSecretBytes = 4096;

// sodium_init is idempotent and thread-safe; it fails only without an
// entropy source. A library does not end its process over it: the caller
// (the shim, the memnode, a tool) reports the error its own way.
Status SodiumReady() {
  if (sodium_init() < 0) return Status::Unavailable("libsodium could not initialise (no entropy source)");
  return Status::OK();
}

}  // namespace

Secret Secret::FromBytes(std::string_view bytes) {
  // BLAKE2b (like the HMAC of Prove) needs no sodium_init, which only picks
  // faster implementations: hashing a secret cannot fail.
  Secret s;
  crypto_generichash(s.key_.data(), s.key_.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                     nullptr, 0);
  return s;
}

Result<Secret> Secret::FromFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("secret file " + path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("stat secret file " + path, err);
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return Status::PermissionDenied("secret file " + path + " is readable by others: chmod 600 it");
  }
  if (static_cast<size_t>(st.st_size) < kMinSecretBytes || static_cast<size_t>(st.st_size) > kMaxSecretBytes) {
    close(fd);
    return Status::InvalidArgument("secret file " + path + " must hold " + std::to_string(kMinSecretBytes) + " to " +
                                   std::to_string(kMaxSecretBytes) + " bytes");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      return Status::FromErrno("read secret file " + path, err);
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  Secret s = FromBytes(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return s;
}

Result<Secret> Secret::LoadOrCreate(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) return FromFile(path);
  RESPCT_RETURN_IF_ERROR(SodiumReady());
  RESPCT_RETURN_IF_ERROR(MakeParentDirs(path));
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  // O_EXCL: if another process created it meanwhile, use theirs.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return FromFile(path);
    return Status::FromErrno("create secret file " + path, errno);
  }
  const ssize_t n = write(fd, bytes, sizeof bytes);
  const int err = errno;
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (n != static_cast<ssize_t>(sizeof bytes) || !synced) {
    unlink(path.c_str());
    return Status::FromErrno("write secret file " + path, n < 0 ? err : EIO);
  }
  return FromBytes(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Secret::Proof Secret::Prove(std::string_view label, const uint8_t (&nonce)[wire::kNonceSize],
                            std::string_view app) const {
  static_assert(wire::kProofSize == crypto_auth_BYTES);
  static_assert(kKeySize == crypto_auth_KEYBYTES);
  // label | 0 | nonce | app: the NUL keeps label and nonce from running together.
  std::string msg(label);
  msg.push_back('\0');
  msg.append(reinterpret_cast<const char*>(nonce), wire::kNonceSize);
  msg.append(app);
  Proof p;
  crypto_auth(p.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), key_.data());
  return p;
}

bool Secret::Verify(const uint8_t (&proof)[wire::kProofSize], std::string_view label,
                    const uint8_t (&nonce)[wire::kNonceSize], std::string_view app) const {
  const Proof expected = Prove(label, nonce, app);
  return sodium_memcmp(expected.data(), proof, wire::kProofSize) == 0;
}

Status Secret::RandomNonce(uint8_t (&nonce)[wire::kNonceSize]) {
  RESPCT_RETURN_IF_ERROR(SodiumReady());
  randombytes_buf(nonce, wire::kNonceSize);
  return Status::OK();
}

}  // namespace respct
