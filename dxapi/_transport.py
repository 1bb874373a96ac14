"""The transport seam: one attempt over HTTP, and the only runtime module that imports aiohttp.

A :class:`Transport` sends one :class:`Request` and returns a :class:`Reply` with a body read
up to the request's size limit (:meth:`Transport.send`), or opens a :class:`Stream` whose body
the caller reads (:meth:`Transport.open`, for downloads). It follows no redirect and retries
nothing: what to do with an answer is the session's decision. Every failure below HTTP
becomes an :class:`~dxapi._retry.AttemptFailed` in :func:`translate`, and nowhere else.

:class:`AiohttpTransport` is the default; ``dxapi.testing.MockTransport`` answers from a
function, without sockets.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl as _ssl
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Protocol

import aiohttp
import attrs
import multidict
import yarl

from ._errors import DXError, RequestTimeoutError, ResponseTooLargeError, TransportError
from ._redact import REDACTED, redact, remember_secret
from ._retry import AttemptFailed, Verdict

__all__ = [
    "AiohttpTransport",
    "CallerSession",
    "Reply",
    "Request",
    "SSLSetting",
    "Stream",
    "Transport",
    "check_size",
    "translate",
]

#: A caller's own aiohttp session (``Client(session=...)``), named here so that no other
#: module needs to import aiohttp.
CallerSession = aiohttp.ClientSession


@attrs.define(slots=True)
class Request:
    """One attempt, ready to send: everything the transport needs and nothing more.

    ``headers`` are complete (credentials included, unless ``presigned``) and never shown in
    a repr. A ``presigned`` URL is sent exactly as given (its signature must not be
    re-encoded), with no credentials of any kind.
    """

    method: str
    url: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    json: Any = None
    form: tuple[tuple[str, str], ...] | None = None
    #: (field name, bytes, path or file object) of a multipart upload.
    file: tuple[str, Any] | None = None
    #: The method's name, for error messages.
    name: str = ""
    connect: float = 10.0
    #: For a stream, the longest silence between two chunks.
    read: float = 60.0
    #: The most bytes :meth:`Transport.send` and :meth:`Stream.read` accept.
    max_bytes: int = 64 << 20
    presigned: bool = False


@attrs.define(slots=True)
class Reply:
    """An answer whose body was read whole: status, headers (case-insensitive), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Stream(Protocol):
    """An answer whose body is still to be read; close it with :meth:`aclose`."""

    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes:
        """The rest of the body, at most the request's ``max_bytes``."""
        ...

    def iter_bytes(self, chunk_size: int) -> AsyncGenerator[bytes, None]:
        """The body in chunks of at most ``chunk_size`` bytes (failures as DXError)."""
        ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    """What a client sends its requests through (``Client(transport=...)``)."""

    async def send(self, request: Request) -> Reply:
        """Send one attempt and read its whole body; failures raise AttemptFailed."""
        ...

    async def open(self, request: Request) -> Stream:
        """Send one attempt and return once the headers are in; failures raise AttemptFailed."""
        ...

    async def aclose(self) -> None: ...


# ----------------------------------------------------------------- the one translation


def translate(exc: BaseException, name: str) -> AttemptFailed:
    """A failure below HTTP (aiohttp's, the OS's, a timeout) as an outcome and an error.

    The error keeps only the exception's class name and redacted text: no request, response
    or header of the library travels with it (raise it outside the ``except`` block).
    """
    if isinstance(exc, AttemptFailed):
        return exc
    if isinstance(exc, TransportError):
        return AttemptFailed(Verdict("fatal"), exc)
    not_sent = (
        aiohttp.ClientConnectorError,
        aiohttp.ConnectionTimeoutError,
        ConnectionRefusedError,
    )
    outcome = Verdict("not_sent" if isinstance(exc, not_sent) else "sent")
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.InvalidURL):  # stays as it is
        outcome = Verdict("fatal")
    cls = RequestTimeoutError if isinstance(exc, TimeoutError) else TransportError
    detail = redact(str(exc))  # a lower library's text: never trust it with the token
    error = cls(f"{name}: {type(exc).__name__}: {detail}".rstrip(": "), method=name)
    return AttemptFailed(outcome, error)


#: What a transport catches and hands to :func:`translate` (never CancelledError).
FAILURES = (aiohttp.ClientError, OSError, TimeoutError, TransportError)


def check_size(name: str, size: int, limit: int, what: str = "answer") -> None:
    """Refuse a body over its limit (a typed error no repeat can cure)."""
    if size > limit:
        raise AttemptFailed(
            Verdict("fatal"),
            ResponseTooLargeError(
                f"{name}: the {what} is over the limit of {limit} bytes "
                "(Limits.max_response_bytes); it was not read further",
                method=name,
            ),
        )


# --------------------------------------------------------------------------- aiohttp


class AiohttpTransport:
    """The default transport: one aiohttp connection pool, created on first use.

    A caller's own ``aiohttp.ClientSession`` is accepted (and never closed here): its
    ``raise_for_status`` and ``timeout`` are overridden per request, and settings that would
    change what dxapi sends or reads (``base_url``, ``auth``, ``auto_decompress=False``) are
    refused.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = 100,
        proxy: str | None = None,
        ssl: SSLSetting = None,
    ) -> None:
        if session is not None:
            check_session(session)
            if proxy is not None or ssl is not None:
                raise ValueError(
                    "proxy= and ssl= configure the connection pool dxapi creates; with your "
                    "own aiohttp.ClientSession, set them on that session instead"
                )
        if max_connections <= 0:
            raise ValueError(f"max_connections must be > 0, got {max_connections!r}")
        self._pool = session
        self._owns = session is None
        self._urls: dict[str, yarl.URL] = {}  # parsed once per method, not once per call
        self._closed = False
        self.max_connections = max_connections
        self._ssl = ssl_context(ssl)
        self._proxy, self._proxy_auth, self._proxy_secret = _proxy(proxy)
        # $HTTP(S)_PROXY and $NO_PROXY as they were when the client was made; each host's
        # route is decided once (aiohttp's trust_env would also read ~/.netrc per request,
        # in a thread, and could send its credentials to a download link's host).
        self._env = {} if proxy is not None else _env_proxies()
        self._routes: dict[tuple[str, str], Route] = {}
        # The headers last sent, as aiohttp's own type (it would copy a dict on every call);
        # matched by identity: a client sends the same headers object with every call.
        self._headers: tuple[Mapping[str, str] | None, multidict.CIMultiDict[str] | None] = (
            None,
            None,
        )

    def __repr__(self) -> str:
        proxy = "" if self._proxy is None else f", proxy={str(self._proxy)!r}"
        return f"AiohttpTransport(max_connections={self.max_connections}{proxy})"

    def pool(self) -> aiohttp.ClientSession:
        # A closed client stays closed: a call still running when `async with` ended must not
        # quietly open a new pool that nobody will close.
        pool = self._pool
        if pool is not None and not self._closed and not pool.closed:
            return pool
        if self._closed or pool is not None:
            raise AttemptFailed(
                Verdict("fatal"),
                TransportError("the client is closed; create a new one or re-enter it"),
            )
        self._pool = pool = self._new_pool(self.max_connections)
        # aiohttp silently resends a GET once when a kept-alive connection was closed under
        # it; that second arrival would be invisible to the limiter and the retry policy.
        pool._retry_connection = False
        return pool

    def _new_pool(self, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limit, enable_cleanup_closed=True, ssl=True if self._ssl is None else self._ssl
        )
        return aiohttp.ClientSession(connector=connector)

    def reopen(self) -> None:
        self._closed = False
        if self._owns and self._pool is not None and self._pool.closed:
            self._pool = None

    async def aclose(self) -> None:
        self._closed = True
        pool, owns = self._pool, self._owns
        if owns:
            self._pool = None
        if pool is not None and owns and not pool.closed:
            await pool.close()

    async def send(self, request: Request) -> Reply:
        try:
            async with self._start(request, self.pool(), None) as resp:
                headers = resp.headers
                length = resp.content_length
                if length is not None and "Content-Encoding" not in headers:
                    check_size(request.name, length, request.max_bytes)
                    body = await resp.read()
                else:  # chunked or compressed: count what arrives
                    body = await _read_capped(resp.content, request)
                reply = Reply(resp.status, headers, body)
        except FAILURES as exc:
            failure = translate(exc, request.name)
        else:
            return reply
        raise failure  # outside the handler: nothing of aiohttp's hangs on as __context__

    async def open(self, request: Request) -> Stream:
        own: aiohttp.ClientSession | None = None
        try:
            pool = self.pool()
            if request.presigned and _carries_credentials(pool):
                pool = own = self._new_pool(1)  # the caller's defaults stay at home
            resp = await self._start(request, pool, request.read)
            return _AiohttpStream(resp, request, own)
        except FAILURES as exc:
            failure = translate(exc, request.name)
        if own is not None:
            await own.close()
        raise failure

    def _start(self, request: Request, pool: aiohttp.ClientSession, read: float | None) -> Any:
        form = request.form is not None or request.file is not None
        if request.presigned:
            url = yarl.URL(request.url, encoded=True)  # the signature must stay as sent
        elif (cached := self._urls.get(request.url)) is not None:
            url = cached
        else:
            url = yarl.URL(request.url)
            if len(self._urls) < 4096:
                self._urls[request.url] = url
        proxy, proxy_auth = self._route(url) if self._env else (self._proxy, self._proxy_auth)
        given, headers = self._headers
        if given is not request.headers:
            headers = multidict.CIMultiDict(request.headers)
            self._headers = (request.headers, headers)
        return pool.request(
            request.method,
            url,
            params=request.query or None,
            headers=headers,
            json=request.json,
            data=body_data(request) if form else None,
            timeout=_timeout(request.connect, read),
            allow_redirects=False,
            raise_for_status=False,
            proxy=proxy,
            proxy_auth=proxy_auth,
        )

    def _route(self, url: yarl.URL) -> Route:
        """The proxy the environment names for this URL's host, if any."""
        key = (url.scheme, url.host or "")
        route = self._routes.get(key)
        if route is None:
            proxy = self._env.get(url.scheme)
            if proxy is None or bypass(key[1], self._env.get("no", "")):
                route = (None, None)
            else:
                route = proxy[:2]
            if len(self._routes) < 4096:
                self._routes[key] = route
        return route


class _AiohttpStream:
    def __init__(
        self,
        resp: aiohttp.ClientResponse,
        request: Request,
        own: aiohttp.ClientSession | None,
    ) -> None:
        self._resp = resp
        self._request = request
        self._own = own
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        try:
            body = await _read_capped(self._resp.content, self._request)
        except FAILURES as exc:
            failure = translate(exc, self._request.name)
        else:
            return body
        raise failure

    async def iter_bytes(self, chunk_size: int) -> AsyncGenerator[bytes, None]:
        content = self._resp.content
        failure: DXError | None = None
        try:
            while chunk := await content.read(chunk_size):
                yield chunk
        except FAILURES as exc:
            failure = translate(exc, self._request.name).error
        if failure is not None:
            raise failure

    async def aclose(self) -> None:
        self._resp.release()
        if self._own is not None:
            await self._own.close()


async def _read_capped(content: aiohttp.StreamReader, request: Request) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await content.read(1 << 16):
        size += len(chunk)
        check_size(request.name, size, request.max_bytes)
        parts.append(chunk)
    return b"".join(parts)


@functools.lru_cache(maxsize=16)
def _timeout(connect: float, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's own timers: connecting, and for streams the silence between chunks. The
    session's watchdog (:mod:`dxapi._watchdog`) bounds the rest of an attempt."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


def check_session(session: aiohttp.ClientSession) -> None:
    """Refuse a caller's session whose settings would change what dxapi sends."""
    problems = []
    if session._base_url is not None:
        problems.append("it has a base_url (give base_url= to the client instead)")
    if session.auth is not None:
        problems.append("it has auth= set (the client sends its own token)")
    if not session.auto_decompress:
        problems.append("it has auto_decompress=False (compressed answers would not decode)")
    if session.closed:
        problems.append("it is closed")
    if problems:
        raise ValueError("cannot use this aiohttp.ClientSession: " + "; ".join(problems))


#: ``ssl=`` of a client: a context of your own, or the path of a CA bundle (PEM) to trust
#: instead of the system's; ``None`` is the system's default verification.
SSLSetting = _ssl.SSLContext | str | os.PathLike[str] | None


def ssl_context(value: SSLSetting) -> _ssl.SSLContext | None:
    """The context ``ssl=`` asks for; verification can be narrowed, never switched off here."""
    if value is None or isinstance(value, _ssl.SSLContext):
        return value
    if isinstance(value, str | os.PathLike) and not isinstance(value, bool):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise ValueError(f"ssl= names a CA bundle that is not a file: {path!r}")
        try:
            return _ssl.create_default_context(cafile=path)
        except _ssl.SSLError as exc:
            raise ValueError(
                f"ssl= names a file that is not a PEM CA bundle: {path!r} ({exc})"
            ) from None
    raise TypeError(
        "ssl must be an ssl.SSLContext or the path of a CA bundle, "
        f"got {type(value).__name__} (verification cannot be switched off)"
    )


Route = tuple[yarl.URL | None, aiohttp.BasicAuth | None]


def bypass(host: str, no_proxy: str) -> bool:
    """Whether ``$NO_PROXY`` sends ``host`` direct: ``*``, the host itself, a domain it is in
    (``example.com`` or ``.example.com``), or a network it is in (``10.0.0.0/8``)."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if "]:" in entry or entry.count(":") == 1:  # host:port, [v6]:port
            entry = entry.rsplit(":", 1)[0]
        entry = entry.strip("[]").rstrip(".")
        if not entry:
            continue
        if entry == "*" or host == entry.lstrip("."):
            return True
        if address is None:
            if host.endswith("." + entry.lstrip(".")):
                return True
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            pass
    return False


def _env_proxies() -> dict[str, Any]:
    """``{"http": (url, auth, secret), "https": ..., "no": "..."}`` from the environment
    (lower-case names first, as curl reads them); empty when no proxy is set."""
    found = urllib.request.getproxies_environment()
    proxies: dict[str, Any] = {}
    for scheme in ("http", "https"):
        if value := found.get(scheme):
            try:
                proxies[scheme] = _proxy(value)
            except ValueError as exc:
                raise ValueError(f"${scheme.upper()}_PROXY: {exc}") from None
    if proxies and "no" in found:
        proxies["no"] = found["no"]
    return proxies


def _proxy(url: str | None) -> tuple[yarl.URL | None, aiohttp.BasicAuth | None, object]:
    """An explicit proxy: its URL without credentials, the credentials, and their redaction."""
    if url is None:
        return None, None, None
    if not isinstance(url, str):
        raise TypeError(f"proxy must be a URL str, got {type(url).__name__}")
    try:
        parsed = yarl.URL(url)
        host = parsed.host
    except ValueError:
        host = None
    if host is None or parsed.scheme not in ("http", "https"):
        shown = redact_userinfo(url)
        raise ValueError(f"proxy must be an http(s)://host:port URL, got {shown!r}")
    auth = aiohttp.BasicAuth.from_url(parsed)
    secret = remember_secret(parsed.password) if parsed.password else None
    return parsed.with_user(None), auth, secret


def redact_userinfo(url: str) -> str:
    """``url`` with anything before an ``@`` in its authority hidden."""
    scheme, sep, rest = url.rpartition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = REDACTED + "@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def _carries_credentials(pool: aiohttp.ClientSession) -> bool:
    headers = {k.lower() for k in pool.headers}
    return "authorization" in headers or "cookie" in headers


# ------------------------------------------------------------------------ multipart


def body_data(request: Request) -> Any:
    """A form body as aiohttp sends it: URL-encoded fields, or multipart with a file."""
    if request.file is None:
        return list(request.form or ())
    form = aiohttp.FormData()
    for name, value in request.form or ():
        form.add_field(name, value)
    name, source = request.file
    form.add_field(name, _file_source(source), filename=file_name(source))
    return form


def _file_source(source: Any) -> Any:
    """Bytes as they are, a file object read in chunks from where it stands, and a path
    opened only when the body is written (and closed after), so a large file is streamed
    rather than loaded and a failed attempt leaks no handle."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        return _read_chunks(os.fsdecode(source))
    return source


async def _read_chunks(path: str, size: int = 1 << 16) -> AsyncIterator[bytes]:
    import anyio  # only for uploads from a path: not on `import dxapi`'s path

    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(size):
            yield chunk


def file_name(source: Any) -> str:
    """The file name the server sees: the path's, the file object's, else upload.csv."""
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
    else:
        name = getattr(source, "name", None) or "upload.csv"
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    return os.path.basename(str(name)) or "upload.csv"
