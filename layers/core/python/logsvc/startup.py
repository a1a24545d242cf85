"""What a function does once its module has loaded, before its first request."""

from __future__ import annotations

import gc


def settled() -> None:
    """Move every object loaded so far (the libraries, the app, its routes) out of the
    garbage collector's way (``gc.freeze``): a full collection then walks only what requests
    made. A search that unpacks packed blocks allocates enough to set one off now and then;
    walking the search function's 40,000 loaded objects as well made its p95 40 ms where it
    is 7 frozen (the newest 50 errors at 1,000,000 logs, in process). No collection first:
    it would lengthen every cold start for the little garbage importing leaves."""
    gc.freeze()
