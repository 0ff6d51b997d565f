// PoolFile: the pool file mapped into memory with libpmem2, and the one way
// to make stores into it durable.
//
// On real PMem (a DAX file system) libpmem2 maps with MAP_SYNC and persists
// with CPU cache flushes; on a regular file it persists with msync. Which one
// we got decides nothing but speed: callers always Persist() what they wrote,
// in the order the protocol needs. A read-write PoolFile holds an exclusive
// flock for its lifetime, so two memnodes never share a pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/base/status.h"

struct pmem2_map;

namespace respct::memnode {

class PoolFile {
 public:
  ~PoolFile();
  PoolFile(const PoolFile&) = delete;
  PoolFile& operator=(const PoolFile&) = delete;

  // Maps an existing file. Read-write takes the exclusive lock (failing with
  // FailedPrecondition when another memnode holds it); read-only takes no lock,
  // so a pool can be inspected while a memnode serves it.
  static Result<std::unique_ptr<PoolFile>> Map(const std::string& path, bool read_only);
  // Creates `path` (which must not exist) as a sparse file of `size` bytes.
  static Status CreateSparse(const std::string& path, uint64_t size);

  uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }
  bool read_only() const { return read_only_; }
  // True when stores reach persistence with CPU flushes (DAX + MAP_SYNC).
  bool is_pmem() const { return is_pmem_; }
  const std::string& path() const { return path_; }

  // Makes [addr, addr+len) durable. No-op on a read-only mapping.
  void Persist(const void* addr, size_t len) const;
  // Durable file metadata (size, for a freshly created file).
  Status Sync() const;
  // Makes [offset, offset+len) read as zeros, durably: the file system
  // deallocates the blocks (hole punch, which DAX file systems support too),
  // or, where it cannot, the bytes are cleared and persisted.
  Status Zero(uint64_t offset, uint64_t len) const;

 private:
  PoolFile() = default;
  Status MapWithPmem2();
  Status MapReadOnlyFallback();

  std::string path_;
  int fd_ = -1;
  bool read_only_ = false;
  bool is_pmem_ = false;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  pmem2_map* map_ = nullptr;
  bool plain_mmap_ = false;
  void (*persist_)(const void*, size_t) = nullptr;
};

}  // namespace respct::memnode
