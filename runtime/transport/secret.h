// Secret: the shared key a client proves to respct-memnode (and the memnode to
// the client) with libsodium crypto_auth, never sending it.
//
// A secret file holds any bytes (at least 16); the key is their BLAKE2b hash
// (crypto_generichash), so a passphrase or 32 random bytes both work. Files
// readable by group or others are refused, like ssh refuses a private key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/status.h"
#include "runtime/wire/message.h"

namespace respct {

class Secret {
 public:
  static constexpr size_t kKeySize = 32;

  // Reads and checks the file (mode, size).
  static Result<Secret> FromFile(const std::string& path);
  // Reads `path`; if it does not exist, creates it with 32 random bytes, mode
  // 0600 (and its directory, 0700). What the embedded default memnode uses.
  static Result<Secret> LoadOrCreate(const std::string& path);
  static Secret FromBytes(std::string_view bytes);

  using Proof = std::array<uint8_t, wire::kProofSize>;
  // MAC(label | nonce | app) under the key.
  Proof Prove(std::string_view label, const uint8_t (&nonce)[wire::kNonceSize], std::string_view app) const;
  // Constant-time comparison of a received proof.
  bool Verify(const uint8_t (&proof)[wire::kProofSize], std::string_view label,
              const uint8_t (&nonce)[wire::kNonceSize], std::string_view app) const;

  // Fails (Unavailable) only when libsodium has no entropy source.
  [[nodiscard]] static Status RandomNonce(uint8_t (&nonce)[wire::kNonceSize]);

 private:
  std::array<uint8_t, kKeySize> key_{};
};

inline constexpr std::string_view kServerProofLabel = "respct-server";
inline constexpr std::string_view kClientProofLabel = "respct-client";

}  // namespace respct
