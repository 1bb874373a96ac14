"""Uploads: a multipart file argument, checked (and a stream buffered) before any request.

The multipart body itself is built by the transport (:func:`dxapi._transport.body_data`).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from ._errors import ArgumentError
from ._spec import MethodSpec

__all__ = ["MAX_UPLOAD_BYTES", "buffer_upload", "check_upload"]


#: orgfiles.upload takes CSV files of at most 10 MB (its docs page on docs.getdx.com); larger
#: files are refused before anything is sent.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def check_upload(spec: MethodSpec, name: str, source: Any) -> None:
    """Refuse a missing, unreadable or oversized upload before any request is made."""
    problem: str | None = None
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            info = os.stat(path)
        except OSError as exc:
            problem = f"argument {name!r}: cannot read {path!r} ({exc.strerror})"
        else:
            if not stat.S_ISREG(info.st_mode):
                problem = f"argument {name!r}: {path!r} is not a regular file"
            elif not os.access(path, os.R_OK):
                problem = f"argument {name!r}: {path!r} is not readable"
            size: int | None = info.st_size
    if problem is None:
        size = _upload_size(source)
        if size is not None and size > MAX_UPLOAD_BYTES:
            problem = (
                f"argument {name!r} is {size} bytes, over the upload limit of "
                f"{MAX_UPLOAD_BYTES} bytes (10 MB)"
            )
    if problem is not None:
        raise ArgumentError(spec.name, [problem])


def _upload_size(source: Any) -> int | None:
    """The bytes an upload will send, when that can be known without reading it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return len(source)
    if isinstance(source, str | os.PathLike):
        return os.stat(os.fspath(source)).st_size
    try:
        position = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(position)
        return int(end) - int(position)
    except (AttributeError, OSError, ValueError, TypeError):
        return None  # not seekable: the server has the last word


class _Upload(bytes):
    """A file object's content, read once: every attempt sends the same bytes, same name."""

    name: str


async def buffer_upload(spec: MethodSpec, name: str, source: Any) -> Any:
    """Read a file-object upload into memory (at most the upload limit) before sending.

    A stream cannot be sent twice: a retry would send what is left of it (nothing), and
    the transport closes it after the first attempt. Paths and bytes are sent as they are.
    """
    if isinstance(source, bytes | bytearray | memoryview | str | os.PathLike):
        return source
    import anyio.to_thread  # only for uploads from a file object: not on `import dxapi`'s path

    data = await anyio.to_thread.run_sync(source.read, MAX_UPLOAD_BYTES + 1)
    if not isinstance(data, bytes | bytearray):
        raise ArgumentError(spec.name, [f"argument {name!r} must be opened in binary mode ('rb')"])
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArgumentError(
            spec.name,
            [f"argument {name!r} is over the upload limit of {MAX_UPLOAD_BYTES} bytes (10 MB)"],
        )
    upload = _Upload(data)
    upload.name = os.path.basename(str(getattr(source, "name", None) or "upload.csv"))
    return upload
