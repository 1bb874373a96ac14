"""The pytest fixtures under each runner: pytest-asyncio (auto, strict) and anyio's plugin.

Each case is a pytest session of its own in a subprocess (the plugins are chosen per
session), with warnings as errors and strict markers, so a fixture that runs in the wrong
loop, a deprecation warning or an unregistered ``dx_fake`` marker fails the case.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

pytest_plugins = ["pytester"]

_INI = """\
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest
filterwarnings = error
"""

# pytest-asyncio before 1.4 leaves event loops unclosed when anyio tests follow asyncio ones
# in one session, with or without dxapi's fixtures; with it, that one case ignores them.
_OLD_ASYNCIO_LEAK = "    ignore::pytest.PytestUnraisableExceptionWarning\n"


def _asyncio_leaks() -> bool:
    return tuple(int(n) for n in re.findall(r"\d+", version("pytest-asyncio"))[:2]) < (1, 4)


# Every fixture and the marker; the requests prove the clients and the fake share the loop.
_USE_ALL = """
async def use_all(dx_fake, dx_client, dx_datacloud_client):
    import asyncio
    from datetime import UTC, datetime

    async with asyncio.timeout(20):
        entities = [e async for e in dx_client.catalog.entities.list()]
        await dx_datacloud_client.deployments.create(
            service="api", deployed_at=datetime.now(UTC), reference_id="ref-1"
        )
    assert len(entities) == 7  # the marker reached FakeDX(entities=7)
    assert [r.method for r in dx_fake.requests] == ["catalog.entities.list", "deployments.create"]
"""

_SYNC = """
import json
import urllib.request


@pytest.mark.dx_fake(teams=3)
def test_sync(dx_fake):
    req = urllib.request.Request(
        dx_fake.url + "/teams.list", headers={"Authorization": "Bearer " + dx_fake.token}
    )
    with urllib.request.urlopen(req, timeout=20) as answer:
        body = json.load(answer)
    assert len(body["teams"]) == 3
    assert [r.method for r in dx_fake.requests] == ["teams.list"]


def test_sync_client_refused(dx_client):
    pass
"""


def _run(pytester: pytest.Pytester, ini: str, source: str, *args: str) -> pytest.RunResult:
    pytester.makeini(ini)
    pytester.makepyfile(test_inner="import pytest\n" + _USE_ALL + source)
    return pytester.runpytest_subprocess(*args, timeout=120)


def test_pytest_asyncio_auto_mode(pytester: pytest.Pytester) -> None:
    source = """
pytestmark = pytest.mark.dx_fake(entities=7, rate_limit=None)


async def test_all(dx_fake, dx_client, dx_datacloud_client):
    await use_all(dx_fake, dx_client, dx_datacloud_client)
""" + _SYNC.replace("@pytest.mark.dx_fake(teams=3)", "@pytest.mark.dx_fake(teams=3, entities=7)")
    result = _run(pytester, _INI.format(mode="auto"), source)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*dx_client is an open async client*"])


def test_pytest_asyncio_strict_mode_beside_anyio(pytester: pytest.Pytester) -> None:
    source = """
pytestmark = pytest.mark.dx_fake(entities=7)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.asyncio
async def test_asyncio(dx_fake, dx_client, dx_datacloud_client):
    await use_all(dx_fake, dx_client, dx_datacloud_client)


@pytest.mark.anyio
async def test_anyio(dx_fake, dx_client, dx_datacloud_client):
    await use_all(dx_fake, dx_client, dx_datacloud_client)


async def test_unmarked(dx_client):
    pass
"""
    ini = _INI.format(mode="strict") + (_OLD_ASYNCIO_LEAK if _asyncio_leaks() else "")
    result = _run(pytester, ini, source)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*no plugin runs this async test; mark it @pytest.mark.anyio*"])


def test_anyio_plugin_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    source = """
pytestmark = pytest.mark.dx_fake(entities=7)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_anyio(dx_fake, dx_client, dx_datacloud_client):
    await use_all(dx_fake, dx_client, dx_datacloud_client)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_refused(dx_fake):
    pass
""" + _SYNC.replace("@pytest.mark.dx_fake(teams=3)", "@pytest.mark.dx_fake(teams=3, entities=7)")
    ini = "\n".join(line for line in _INI.splitlines() if not line.startswith("asyncio_"))
    result = _run(pytester, ini, source, "-p", "no:asyncio")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*dx_fake: dxapi runs on asyncio, not trio*",
            "*dx_client is an open async client*",
        ]
    )
    result.stdout.no_fnmatch_line("*asyncio_mode*")
