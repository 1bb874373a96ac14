"""Network settings: proxies (env and ``proxy=``), ``ssl=``, ``default_headers=``, token env
aliases, ``$DX_LOG``, and aiohttp staying behind the transport seam.

The proxy is a tiny forward proxy on 127.0.0.1 that answers absolute-form requests itself
and records them; targets are plain http (an https target would need CONNECT, which the
proxy does not speak: aiohttp's tunnelling is aiohttp's to test).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import logging
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import dxapi
from dxapi import ArgumentError, Client, TransportError
from dxapi._config import resolve_token
from dxapi._hooks import _Handler, configure_log
from dxapi._transport import AiohttpTransport, Request, bypass
from dxapi.testing import MockResponse, MockTransport

OK = json.dumps({"ok": True, "teams": []}).encode()
ROOT = Path(__file__).resolve().parents[1]


class Proxy:
    """A forward proxy that answers every request itself and records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []  # (request target, headers)
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                _, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                if n := int(headers.get("content-length", 0)):
                    await reader.readexactly(n)
                self.seen.append((target, headers))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(OK), OK)
                )
                await writer.drain()
        finally:
            writer.close()


class Origin:
    """A plain JSON server that records the paths and headers it was sent."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    async def _answer(self, request: web.Request) -> web.Response:
        self.seen.append((request.path_qs, dict(request.headers)))
        return web.Response(body=OK, content_type="application/json")

    async def __aenter__(self) -> Origin:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    async with Origin() as o:
        yield o


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    async with Proxy() as p:
        yield p


# ------------------------------------------------------------------------ proxies


async def test_http_proxy_from_the_environment_carries_the_call(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, proxy: Proxy, token: str
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    async with Client(token, base_url=origin.url) as dx:
        assert await dx.get("teams.list") == {"ok": True, "teams": []}
    assert [target for target, _ in proxy.seen] == [f"{origin.url}/teams.list"]
    assert proxy.seen[0][1]["authorization"] == f"Bearer {token}"  # the call, whole
    assert origin.seen == []


async def test_no_proxy_keeps_loopback_direct(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, proxy: Proxy, token: str
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with Client(token, base_url=origin.url) as dx:
        await dx.get("teams.list")
    assert proxy.seen == []
    assert [path for path, _ in origin.seen] == ["/teams.list"]


async def test_presigned_links_go_through_the_environment_proxy(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, proxy: Proxy
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    link = f"http://localhost:{origin.port}/bucket/file.csv?X-Amz-Signature=a%2Fb"
    transport = AiohttpTransport()
    stream = await transport.open(Request("GET", link, presigned=True, name="m"))
    assert await stream.read() == OK
    await stream.aclose()
    await transport.aclose()
    assert [target for target, _ in proxy.seen] == [link]  # the signature as given


async def test_presigned_links_of_a_credentialed_session_use_the_proxy_too(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, proxy: Proxy
) -> None:
    import aiohttp

    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    async with aiohttp.ClientSession(headers={"Cookie": "s=1"}) as own:
        transport = AiohttpTransport(own)
        link = f"http://localhost:{origin.port}/file.csv"
        stream = await transport.open(Request("GET", link, presigned=True, name="m"))
        await stream.read()
        await stream.aclose()
    assert [target for target, _ in proxy.seen] == [link]
    assert "cookie" not in proxy.seen[0][1]  # the caller's defaults stayed at home


async def test_an_explicit_proxy_beats_the_environment_and_sends_its_credentials(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, proxy: Proxy, token: str
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    explicit = f"http://alice:pr0xy-s3cret-pw@127.0.0.1:{proxy.port}"
    async with Client(token, base_url=origin.url, proxy=explicit) as dx:
        await dx.get("teams.list")
        assert "pr0xy-s3cret-pw" not in repr(dx._session.transport)
        assert "pr0xy-s3cret-pw" not in repr(dx)
    assert [target for target, _ in proxy.seen] == [f"{origin.url}/teams.list"]
    auth = proxy.seen[0][1]["proxy-authorization"]
    assert base64.b64decode(auth.split()[1]) == b"alice:pr0xy-s3cret-pw"
    assert origin.seen == []


async def test_an_unreachable_proxy_fails_without_echoing_its_password(
    no_proxy_env: pytest.MonkeyPatch, origin: Origin, token: str
) -> None:
    explicit = "http://alice:pr0xy-s3cret-pw@127.0.0.1:9"
    dx = Client(token, base_url=origin.url, proxy=explicit, retries=0)
    async with dx:
        with pytest.raises(TransportError) as caught:
            await dx.get("teams.list")
    shown = str(caught.value) + repr(caught.value)
    assert "pr0xy-s3cret-pw" not in shown
    assert "alice" not in shown or "pr0xy" not in shown
    assert origin.seen == []


@pytest.mark.parametrize(
    ("proxy", "error", "shown"),
    [
        ("ftp://proxy:21", ValueError, "ftp://proxy:21"),
        ("socks5://u:hidden-pw@proxy:1080", ValueError, "[redacted]@proxy:1080"),
        ("not a url", ValueError, "not a url"),
        (8080, TypeError, "int"),
    ],
)
def test_a_bad_proxy_is_refused_with_its_password_hidden(
    token: str, proxy: Any, error: type[Exception], shown: str
) -> None:
    with pytest.raises(error) as caught:
        Client(token, proxy=proxy)
    assert shown in str(caught.value)
    assert "hidden-pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "no_proxy", "direct"),
    [
        ("127.0.0.1", "127.0.0.1,localhost", True),
        ("localhost", "127.0.0.1, localhost", True),
        ("api.getdx.com", "getdx.com", True),
        ("api.getdx.com", ".getdx.com", True),
        ("getdx.com.evil.io", "getdx.com", False),
        ("notgetdx.com", "getdx.com", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("::1", "[::1]:8080", True),
        ("api.getdx.com", "*", True),
        ("api.getdx.com", "localhost:8080", False),
        ("api.getdx.com", "", False),
    ],
)
def test_no_proxy_entries(host: str, no_proxy: str, direct: bool) -> None:
    assert bypass(host, no_proxy) is direct


def test_an_unusable_proxy_variable_is_named(no_proxy_env: pytest.MonkeyPatch, token: str) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "socks5://user:env-pw-123@proxy:1080")
    with pytest.raises(ValueError, match=r"\$HTTPS_PROXY: proxy must be") as caught:
        Client(token)
    assert "env-pw-123" not in str(caught.value)


def test_proxy_and_ssl_are_refused_with_a_transport_of_ones_own(token: str) -> None:
    mock = MockTransport(lambda r: MockResponse(json={"ok": True}))
    with pytest.raises(ValueError, match="not with transport="):
        Client(token, transport=mock, proxy="http://127.0.0.1:3128")
    with pytest.raises(ValueError, match="not with transport="):
        Client(token, transport=mock, ssl=ssl.create_default_context())


# ---------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own CA, made with openssl."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
async def https_origin(self_signed: tuple[Path, Path]) -> AsyncIterator[Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed)
    async with Origin(context) as o:
        yield o


async def test_a_self_signed_server_is_refused_by_default(
    no_proxy_env: pytest.MonkeyPatch, https_origin: Origin, token: str
) -> None:
    async with Client(token, base_url=https_origin.url, retries=0) as dx:
        with pytest.raises(TransportError, match=r"(?i)certificate"):
            await dx.get("teams.list")
    assert https_origin.seen == []


async def test_a_ca_bundle_path_makes_the_server_trusted(
    no_proxy_env: pytest.MonkeyPatch, https_origin: Origin, self_signed: Any, token: str
) -> None:
    cert, _ = self_signed
    async with Client(token, base_url=https_origin.url, ssl=cert) as dx:  # a Path
        assert await dx.get("teams.list") == {"ok": True, "teams": []}
    async with Client(token, base_url=https_origin.url, ssl=str(cert)) as dx:  # a str
        await dx.get("teams.list")
    assert len(https_origin.seen) == 2


async def test_an_ssl_context_is_used_as_given(
    no_proxy_env: pytest.MonkeyPatch, https_origin: Origin, self_signed: Any, token: str
) -> None:
    context = ssl.create_default_context(cafile=str(self_signed[0]))
    async with Client(token, base_url=https_origin.url, ssl=context) as dx:
        await dx.get("teams.list")
    assert [path for path, _ in https_origin.seen] == ["/teams.list"]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (False, TypeError, "cannot be switched off"),
        ("/nonexistent/ca.pem", ValueError, "not a file"),
    ],
)
def test_a_bad_ssl_setting_is_refused(
    token: str, value: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Client(token, ssl=value)


def test_a_file_that_is_not_pem_is_refused(token: str, tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match="not a PEM CA bundle"):
        Client(token, ssl=junk)


# ------------------------------------------------------------------ default headers


def recorder() -> MockTransport:
    return MockTransport(lambda r: MockResponse(json={"ok": True, "teams": []}))


async def test_default_headers_go_with_every_call_under_extra_headers(token: str) -> None:
    mock = recorder()
    defaults = {"X-Team": "platform", "User-Agent": "my-app/1.0"}
    async with Client(token, transport=mock, default_headers=defaults) as dx:
        await dx.get("teams.list")
        await dx.get("teams.list", extra_headers={"x-team": "override"})
    first, second = (dict(r.headers) for r in mock.requests)
    assert first["X-Team"] == "platform" and first["User-Agent"] == "my-app/1.0"
    assert first["Authorization"] == f"Bearer {token}"
    assert second["x-team"] == "override" and "X-Team" not in second


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"Authorization": "Bearer other"}, "default_headers\\['Authorization'\\] cannot be set"),
        ({"content-type": "text/plain"}, "dxapi sets content-type itself"),
        ({"X-Bad": "a\r\nb"}, "line break"),
        ({"X-Number": 3}, "must be str"),
        ({"bad name": "v"}, "not an HTTP header name"),
        ({"X-A": "1", "x-a": "2"}, "sets 'x-a' twice"),
    ],
)
def test_bad_default_headers_are_refused_before_anything_is_sent(
    token: str, headers: dict[str, Any], match: str
) -> None:
    with pytest.raises(ArgumentError, match=match):
        Client(token, transport=recorder(), default_headers=headers)


async def test_default_headers_do_not_travel_to_download_links(token: str) -> None:
    from dxapi._prepare import link

    spec = dxapi.Client.methods()["teams.list"]
    request = link(spec, "https://bucket.example/f.csv", dxapi.Timeout(), dxapi.Limits())
    assert "X-Team" not in request.headers  # links carry LINK_HEADERS only
    async with Client(token, transport=recorder(), default_headers={"X-Team": "p"}) as dx:
        assert dx._session._file_headers["X-Team"] == "p"  # DX's own download requests do


# ------------------------------------------------------------------ token aliases


@pytest.mark.parametrize(
    ("canonical", "alias"),
    [("DX_API_TOKEN", "DX_WEB_API_TOKEN"), ("DX_DATACLOUD_TOKEN", "DX_DATA_CLOUD_TOKEN")],
)
def test_the_other_sdks_token_names_are_aliases(canonical: str, alias: str) -> None:
    assert resolve_token(None, canonical, {alias: "from-alias"}) == "from-alias"
    both = {alias: "from-alias", canonical: "from-canonical"}
    assert resolve_token(None, canonical, both) == "from-canonical"
    assert resolve_token("given", canonical, both) == "given"
    with pytest.raises(ValueError, match=f"\\${canonical} or \\${alias}"):
        resolve_token(None, canonical, {})


def test_clients_read_the_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DX_API_TOKEN", raising=False)
    monkeypatch.delenv("DX_DATACLOUD_TOKEN", raising=False)
    monkeypatch.setenv("DX_WEB_API_TOKEN", "web-alias-token")
    monkeypatch.setenv("DX_DATA_CLOUD_TOKEN", "dc-alias-token")
    assert Client()._session._token == "web-alias-token"
    dc = dxapi.DataCloudClient(instance="acme")
    assert dc._session._token == "dc-alias-token"


def test_the_cli_reads_the_alias(monkeypatch: pytest.MonkeyPatch, origin_url: str) -> None:
    import sys

    monkeypatch.delenv("DX_API_TOKEN", raising=False)
    env = {"DX_WEB_API_TOKEN": "cli-alias-token", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "dxapi.cli", "call", "teams.list", "--base-url", origin_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "DX_API_TOKEN" not in done.stderr  # no "missing token" error
    assert "Cannot connect to host 127.0.0.1:9" in done.stderr  # it got as far as sending
    assert "cli-alias-token" not in done.stdout + done.stderr


@pytest.fixture
def origin_url() -> str:
    """A loopback URL nothing listens on: the CLI gets past the token and fails to connect."""
    return "http://127.0.0.1:9"


# ------------------------------------------------------------------------- DX_LOG


@pytest.fixture
def clean_log() -> Iterator[logging.Logger]:
    log = logging.getLogger("dxapi")
    level = log.level
    yield log
    for handler in [h for h in log.handlers if isinstance(h, _Handler)]:
        log.removeHandler(handler)
    log.setLevel(level)


async def test_dx_log_debug_logs_to_stderr_once_and_redacted(
    clean_log: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
) -> None:
    monkeypatch.setenv("DX_LOG", "debug")
    calls = [0]

    def handler(request: Request) -> MockResponse:
        calls[0] += 1
        if calls[0] == 1:
            return MockResponse(status=503, json={"ok": False, "error": "down"})
        return MockResponse(json={"ok": True})

    retry = dxapi.RetryPolicy(backoff=0.0)
    async with Client(token, transport=MockTransport(handler), retries=retry) as dx:
        Client(token, transport=recorder())  # a second client adds no second handler
        await dx.get("teams.list")
        logging.getLogger("dxapi.child").warning("leaked %s", f"Bearer {token}")
    err = capsys.readouterr().err
    assert clean_log.level == logging.DEBUG
    assert sum(isinstance(h, _Handler) for h in clean_log.handlers) == 1
    assert err.count("teams.list: retry 1") == 1  # the retry line, printed once
    assert token not in err and "[redacted]" in err  # a child logger's line is redacted too


def test_dx_log_info_and_bad_values(clean_log: logging.Logger) -> None:
    configure_log({"DX_LOG": "INFO"})
    assert clean_log.level == logging.INFO
    configure_log({})  # unset: nothing changes
    assert sum(isinstance(h, _Handler) for h in clean_log.handlers) == 1
    with pytest.raises(ValueError, match="DX_LOG must be 'debug' or 'info', got 'loud'"):
        configure_log({"DX_LOG": "loud"})


# ------------------------------------------------------------------ the seam


def test_transport_is_the_only_runtime_module_importing_aiohttp() -> None:
    """At run time (``if TYPE_CHECKING`` blocks aside); dxapi.testing serves FakeDX with it."""
    importers = []
    for path in sorted((ROOT / "dxapi").rglob("*.py")):
        if "testing" in path.relative_to(ROOT / "dxapi").parts:
            continue
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for stmt in block.body
            for node in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            if any(n == "aiohttp" or n.startswith("aiohttp.") for n in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["dxapi/_transport.py"]
