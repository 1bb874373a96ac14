"""CLI habits: --version, options in any position, -v logging, methods filters, inject."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from dxapi import Client, __version__
from dxapi.cli import _server_options as server_options
from dxapi.cli.__main__ import amain, build_parser
from dxapi.testing import FakeDX
from dxapi.testing import __main__ as testing_main


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=30) as server:
        yield server


@pytest.mark.parametrize("module", ["dxapi", "dxapi.cli"])
def test_version_of_the_command_and_the_module(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"dxapi {__version__}"


async def test_options_after_the_command_and_its_arguments(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["call", "catalog.entities.list", "--raw", "limit=2", "--token", fake.token]
    assert await amain([*argv, "--base-url", fake.url, "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["entities"]) == 2
    assert "response_metadata" in payload or payload.get("ok") is True  # the raw payload
    out = tmp_path / "e.jsonl"
    argv = ["export", "catalog.entities.list", "--out", str(out), "limit=7", "--token"]
    assert await amain([*argv, fake.token, "--base-url", fake.url, "-q"]) == 0
    assert out.read_text().count("\n") == 30
    listed = [r for r in fake.requests if r.method == "catalog.entities.list"]
    assert listed[-1].query.get("limit") == "7"  # the argument after --out was sent


async def test_verbose_logs_retries_without_the_token(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.inject("catalog.entities.list", status=429, headers={"Retry-After": "0"})
    base = ["--base-url", fake.url, "--token", fake.token, "-q"]
    try:
        assert await amain([*base, "call", "catalog.entities.list", "limit=1", "-v"]) == 0
        err = capsys.readouterr().err
        assert "catalog.entities.list: retry 1" in err
        assert "GET /catalog.entities.list" not in err  # requests need -vv
        assert await amain([*base, "-vv", "call", "catalog.entities.list", "limit=1"]) == 0
        err = capsys.readouterr().err
        assert "catalog.entities.list: GET /catalog.entities.list" in err
        assert fake.token not in err and "Bearer" not in err
        assert await amain([*base, "call", "catalog.entities.list", "limit=1"]) == 0
        assert capsys.readouterr().err == ""  # no -v: no log
    finally:
        logging.getLogger("dxapi").setLevel(logging.NOTSET)


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--family", "catalg", "did you mean catalog?"), ("--scope", "catalog:raed", "catalog:read")],
)
async def test_unknown_methods_filter_is_an_error_naming_valid_values(
    option: str, value: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await amain(["methods", option, value]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert repr(value) in captured.err and named in captured.err
    assert "valid:" in captured.err


async def test_methods_mark_deprecated_and_name_the_api(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await amain(["methods", "--family", "customMetrics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("[deprecated: " in line and " datacloud " in line for line in lines)
    assert await amain(["methods", "--family", "catalog.entities.list", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["api"], row["deprecated"]) == ("web", None)
    assert await amain(["methods", "--scope", "snapshots:read"]) == 0  # one of two scopes
    assert "orgfiles.teamHierarchy.update" in capsys.readouterr().out


async def test_inject_refuses_a_method_the_fake_does_not_serve(fake: FakeDX) -> None:
    with pytest.raises(ValueError, match=r"'catalog\.entities\.lst'.*catalog\.entities\.list"):
        fake.inject("catalog.entities.lst", status=500)
    assert fake.server.faults.pending == []
    fake.add_method("deployments.newThing", answer={"x": 1})
    fake.inject("deployments.newThing", status=500)  # served once added
    fake.inject("*", status=500)
    assert len(fake.server.faults.pending) == 2


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}


def test_serve_fake_and_the_standalone_server_take_the_same_flags() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve_fake = sub.choices["serve-fake"]
    standalone = _flags(testing_main._parser())
    assert {"--teams", "--users", "--csv-port", "--query-rows", "--token"} <= standalone
    assert _flags(serve_fake) - {"-q", "--quiet", "-v", "--verbose"} == standalone


@pytest.mark.parametrize(
    "argv",
    [
        ["serve-fake", "--token", "tok-1", "--rate-limit", "off", "--fake-entities", "3"],
        ["--token", "tok-1", "--fake-entities", "3", "serve-fake", "-q"],  # global, before it
    ],
)
async def test_serve_fake_uses_every_flag(argv: list[str]) -> None:
    command = [sys.executable, "-m", "dxapi.cli", *argv]
    async with await anyio.open_process(command, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        text = ""
        with anyio.fail_after(20):
            while text.count("\n") < 2:
                text += (await proc.stdout.receive()).decode()
        env = dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines())
        assert env["DX_API_TOKEN"] == "tok-1"
        async with Client(token="tok-1", base_url=env["DX_BASE_URL"], rate_limit=None) as dx:
            found = [e async for e in dx.paginate("catalog.entities.list")]
        assert len(found) == 3
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await proc.wait() == 0


@pytest.mark.parametrize(
    "argv", [["--base-url", "http://x", "serve-fake"], ["serve-fake", "--base-url", "http://x"]]
)
async def test_serve_fake_refuses_what_it_would_ignore(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await amain(argv) == 2
    assert "--base-url" in capsys.readouterr().err


def test_server_options_given_win_over_the_fallback() -> None:
    p = argparse.ArgumentParser()
    server_options.add_server_options(p, port=0, entities=5, suppress=True)
    args = p.parse_args(["--rate-limit", "off", "--teams", "2"])
    fallback = {"seed": 4, "rate_limit": (10, 1.0)}
    assert server_options.fake_options(args, fallback) == {
        "seed": 4,
        "rate_limit": None,
        "teams": 2,
    }
    defaults = argparse.ArgumentParser()
    server_options.add_server_options(defaults, port=8765, entities=1000)
    got = server_options.fake_options(defaults.parse_args([]), {})
    assert (got["port"], got["entities"], got["rate_limit"]) == (8765, 1000, (1000, 60.0))
