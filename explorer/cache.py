"""Explorer pages cached per block: a page that only shows committed state is the same until the next
block, so each web process keeps what it rendered under (head block hash, URL) and renders again when the
head moves. Only GET answers with status 200 are kept; the mempool-dependent parts (a transaction's
status, the faucet, submit) are not wrapped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from chain.store.sql import head_hash

_STRIPES = [threading.Lock() for _ in range(64)]
MAX_CACHED_BYTES = 256 * 1024  # a bigger page (a transaction writing thousands of slots) is rendered each time


def per_block(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def cached(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        pages = caches["pages"]
        head = head_hash()  # the hash, not the height: a fresh chain in the same process reuses heights
        key = f"{'' if head is None else head.hex()}|{request.get_full_path()}"
        hit = pages.get(key)
        if hit is None:
            # when a block lands, every client asks for the page again at once: one thread renders it
            with _STRIPES[hash(key) % len(_STRIPES)]:
                hit = pages.get(key)
                if hit is None:
                    response = view(request, *args, **kwargs)
                    if response.status_code != 200 or response.streaming or len(response.content) > MAX_CACHED_BYTES:
                        return response
                    hit = (response.content, response["Content-Type"])
                    pages.set(key, hit)
        content, content_type = hit
        return HttpResponse(content, content_type=content_type)

    return cached
