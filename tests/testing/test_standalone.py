"""``python -m dxapi.testing`` serves the fake standalone, for curl and other processes."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
import pytest

from dxapi.testing.__main__ import parse_rate_limit


def test_parse_rate_limit() -> None:
    assert parse_rate_limit("1000/60") == (1000, 60.0)
    assert parse_rate_limit("200/2.5") == (200, 2.5)
    assert parse_rate_limit("off") is None
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rate_limit("fast")


async def test_standalone_server_answers_a_raw_get() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dxapi.testing", "--port", "0", "--entities", "5",
        "--rate-limit", "100/1", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        found: dict[str, str] = {}
        while "DX_API_TOKEN" not in found:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "the server exited before printing its URL"
            key, _, value = line.strip().partition("=")
            found[key] = value
        url, token = found["DX_BASE_URL"], found["DX_API_TOKEN"]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{url}/catalog.entities.list?limit=2", headers=headers) as resp:
                body = await resp.json()
            async with http.get(f"{url}/api/customData.getAllByReference?reference=x") as resp:
                assert resp.status == 401
    finally:
        proc.terminate()
        await proc.communicate()
    assert resp.status == 401
    assert body["ok"] is True
    assert len(body["entities"]) == 2
    assert body["response_metadata"]["next_cursor"]
