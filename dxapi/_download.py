"""A download's body: the bytes of an open answer, in chunks, within its time and size limits.

Finding the body (the DX request, "not ready yet" polls, redirect hops, a fresh link when one
went stale) is the session's loop (:meth:`dxapi._session.Session.stream`); this module reads
what it found. Memory stays bounded by the chunk size whatever the file's size.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from ._errors import RequestTimeoutError, ResponseTooLargeError
from ._transport import Stream

__all__ = ["read_body"]


async def read_body(
    stream: Stream,
    name: str,
    chunk_size: int,
    time_limit: float,
    max_bytes: int | None,
    now: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[bytes, None]:
    """Yield ``stream``'s body and close it, however the consumer stops.

    Each chunk waits at most the request's read timeout (the transport's); the whole body at
    most ``time_limit`` seconds (``Timeout.download``) and ``max_bytes`` bytes
    (``Limits.max_download_bytes``), so a body that trickles in or never ends still ends.
    """
    ends = now() + time_limit
    size = 0
    try:
        async with aclosing(stream.iter_bytes(chunk_size)) as chunks:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ResponseTooLargeError(
                        f"{name}: the download is over the limit of {max_bytes} bytes "
                        "(Limits.max_download_bytes)",
                        method=name,
                    )
                if now() > ends:
                    raise RequestTimeoutError(
                        f"{name}: the download took over {time_limit} s (Timeout.download)",
                        method=name,
                    )
                yield chunk
    finally:
        await stream.aclose()
