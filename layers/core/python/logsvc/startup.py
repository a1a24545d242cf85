"""What a function does once its module has loaded, before its first request."""

from __future__ import annotations

import ctypes
import gc

# glibc's mallopt parameters (malloc.h), and what settled() sets them to.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's most on 64-bit
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def settled() -> None:
    """Move every object loaded so far (the libraries, the app, its routes) out of the
    garbage collector's way (``gc.freeze``): a full collection then walks only what requests
    made. A search that unpacks packed blocks allocates enough to set one off now and then;
    walking the search function's 40,000 loaded objects as well made its p95 40 ms where it
    is 7 frozen (the newest 50 errors at 1,000,000 logs, in process). No collection first:
    it would lengthen every cold start for the little garbage importing leaves. And keep
    freed memory for the next request (keep_freed_memory)."""
    gc.freeze()
    keep_freed_memory()


def keep_freed_memory() -> None:
    """Have glibc's malloc serve allocations of up to 32 MB from memory it keeps, rather
    than mapping fresh pages for each one over 128 KB and unmapping them when freed, and
    keep up to 128 MB freed at the top of its heap: every page of a fresh mapping costs a
    page fault when first touched. Counting a day of a busy service makes about fifteen
    arrays of 2 MB; their page faults took 7 of its 12 ms (block_times, 1,000,000 logs,
    docs/PERFORMANCE.md). Nothing where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
