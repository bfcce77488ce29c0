"""Request limits: the body size (413) and the time to read it (408).

The size is checked twice: against ``Content-Length`` before a byte is read, and while the body
streams in (a chunked request has no length), so an oversized body is never held in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class RequestRefused(Exception):
    """A request the service answers with an error status; the message never quotes the body."""

    def __init__(self, status: int, error: str, message: str, **extra):
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra


def too_large(limit: int) -> RequestRefused:
    return RequestRefused(413, "request_too_large", f"the request body is larger than {limit} bytes", limit=limit)


async def read_body(headers: dict[str, str], chunks: AsyncIterator[bytes], *, limit: int, timeout: float) -> bytes:
    """The whole body, at most ``limit`` bytes, read within ``timeout`` seconds."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestRefused(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise too_large(limit)
    parts, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                parts.append(chunk)
    except TimeoutError:
        raise RequestRefused(
            408, "request_timeout", f"the request body was not received within {timeout:g} s"
        ) from None
    return b"".join(parts)
