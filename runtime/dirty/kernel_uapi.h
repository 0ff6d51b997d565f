// Kernel interfaces newer than Debian 12's linux-libc-dev (6.1): userfaultfd
// asynchronous write-protect (Linux 6.7) and the PAGEMAP_SCAN ioctl on
// /proc/<pid>/pagemap (Linux 6.7).
//
// Values follow include/uapi/linux/userfaultfd.h and include/uapi/linux/fs.h
// of Linux 6.7+ (see also ioctl_pagemap_scan(2)). Each block is guarded by the
// symbol the real header defines, so building against newer headers uses
// theirs and nothing clashes. Whether the *running* kernel supports them is a
// run-time question answered by the probes in uffd_tracker.cc.
#pragma once

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

// /dev/userfaultfd (Linux 6.1): lets a process without CAP_SYS_PTRACE create a
// userfaultfd when the syscall is refused by policy.
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC 0xAA
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
// Install uffd-wp markers on never-populated PTEs, so a first write to a page
// that was never touched is tracked too (the kernel implies it with WP_ASYNC).
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
// Write faults on write-protected pages are resolved inside the kernel (the
// protection is dropped, the page becomes "written"); no message is queued.
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef PAGEMAP_SCAN
// Categories: bits in pm_scan_arg masks and page_region.categories.
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

// One output run of pages [start, end) sharing the reported categories.
struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};

// Operations (pm_scan_arg.flags).
#define PM_SCAN_WP_MATCHING (1 << 0)   // write-protect the matched pages
#define PM_SCAN_CHECK_WPASYNC (1 << 1) // fail with EPERM on a VMA without async WP

// The ioctl argument. `walk_end` is written by the kernel: where the walk
// stopped; it equals `end` once the whole range was scanned, and is smaller
// when `vec` filled up (the caller continues from there).
struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end;
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
