// Page checksums of an app's image: how a recovery verifies, end to end, the
// bytes it reads from a memnode (issue 13 §4).
//
// The memnode keeps one XXH3_64 per 4 KiB page of each app's image, updated
// when it applies an epoch and checked before it changes or serves a page.
// Each piece of an image read (ImageData, or ImageGrant over rdma://) is
// preceded by an ImageSums frame holding the checksums of the piece's whole
// pages, so the client checks what arrived in its own memory after the copy
// or the RDMA READ: a flipped bit on the memnode's media, in its memory or on
// the way is an error, never a resumed image.
//
// Pages are counted from the start of their region (regions start on a page
// boundary of the image). A region's last page is whole when a read reaches
// the region's end: the image holds zeros past a region's size, because no
// record may reach there, so both sides hash that page zero-padded.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/wire/checksum.h"

namespace respct::wire {

inline constexpr uint64_t kImageSumPage = 4096;

// Checksum of one image page whose first `len` (<= kImageSumPage) bytes are
// `data` and the rest zeros.
inline uint64_t ImagePageSum(const uint8_t* data, size_t len) {
  if (len == kImageSumPage) return Checksum64(data, kImageSumPage);
  uint8_t page[kImageSumPage] = {};
  std::memcpy(page, data, std::min<size_t>(len, kImageSumPage));
  return Checksum64(page, kImageSumPage);
}

// The pages [first, end) of a region of `region_size` bytes that the range
// [offset, offset + len) holds whole (first == end when it holds none).
struct PageSpan {
  uint64_t first = 0;
  uint64_t end = 0;
  uint64_t count() const { return end - first; }
};
inline PageSpan WholePages(uint64_t offset, uint64_t len, uint64_t region_size) {
  const uint64_t stop = offset + len;
  PageSpan s;
  s.first = (offset + kImageSumPage - 1) / kImageSumPage;
  s.end = stop >= region_size ? (region_size + kImageSumPage - 1) / kImageSumPage : stop / kImageSumPage;
  if (s.end < s.first) s.end = s.first;
  return s;
}

}  // namespace respct::wire
