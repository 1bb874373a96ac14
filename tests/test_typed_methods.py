"""Generated methods: checked like ``dx.call`` (one ArgumentError naming every problem),
precisely typed for mypy, and self-describing at runtime (signature, help)."""

from __future__ import annotations

import inspect
import pydoc
import re
import textwrap
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

import dxapi
import dxapi.types
from dxapi import ArgumentError

BASE = "https://api.getdx.com"


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(token=token) as client:
        yield client


async def test_a_misspelled_keyword_names_every_problem(mocked: Any, dx: dxapi.Client) -> None:
    with pytest.raises(ArgumentError) as info:
        await dx.catalog.entities.info(identifer="payments", limit=3)  # type: ignore[call-arg]
    assert info.value.problems == [
        "unknown argument 'identifer'",
        "unknown argument 'limit'",
        "missing required argument 'identifier'",
    ]
    assert isinstance(info.value, TypeError)  # what a bare signature error was
    assert mocked.requests == {}


async def test_typed_methods_and_dx_call_agree(mocked: Any, dx: dxapi.Client) -> None:
    bad: dict[str, Any] = {"identifier": 3, "nope": True}
    with pytest.raises(ArgumentError) as typed:
        await dx.catalog.entities.info(**bad)
    with pytest.raises(ArgumentError) as raw:
        await dx.call("catalog.entities.info", **bad)
    assert typed.value.problems == raw.value.problems
    assert len(typed.value.problems) == 2
    assert mocked.requests == {}


def test_a_list_method_refuses_at_the_call(dx: dxapi.Client) -> None:
    with pytest.raises(ArgumentError) as info:
        dx.catalog.entities.list(limt=5, cursor=1)  # type: ignore[call-arg, arg-type]
    assert info.value.problems == [
        "unknown argument 'limt'",
        "argument 'cursor' must be str, got int",
    ]


async def test_a_good_call_sends_what_was_given(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        re.compile(r"^https://api\.getdx\.com/catalog\.entities\.info\?identifier=payments$"),
        payload={"ok": True, "entity": {"identifier": "payments", "type": "service"}},
    )
    result = await dx.catalog.entities.info(identifier="payments")
    assert isinstance(result, dxapi.types.CatalogEntitiesInfoResult)
    assert result.entity.identifier == "payments"


async def test_a_keyword_named_argument_travels_under_its_wire_name(
    mocked: Any, token: str
) -> None:
    url = re.compile(r"^https://acme\.getdx\.net/api/customMetrics\.list\?from=2025-01-01&")
    mocked.get(url, payload={"ok": True, "data": []})
    async with dxapi.DataCloudClient(token=token, instance="acme") as dc:
        with warnings.catch_warnings():  # a deprecated family; it warns once per process
            warnings.simplefilter("ignore", DeprecationWarning)
            await dc.custom_metrics.list(from_="2025-01-01", reference="r", key="k")
    (((_, sent),),) = [list(mocked.requests)]
    assert "from=2025-01-01" in str(sent)


def test_signature_and_help_show_the_typed_keywords(dx: dxapi.Client) -> None:
    sig = inspect.signature(dx.catalog.entities.info)
    assert [(p.name, p.kind.name) for p in sig.parameters.values()] == [
        ("identifier", "KEYWORD_ONLY"),
        ("extra_query", "KEYWORD_ONLY"),
        ("extra_body", "KEYWORD_ONLY"),
        ("extra_headers", "KEYWORD_ONLY"),
    ]
    assert sig.parameters["identifier"].default is inspect.Parameter.empty
    text = pydoc.render_doc(dx.catalog.entities.info, renderer=pydoc.plaintext)
    # Python 3.13's pydoc wraps a long signature one parameter a line.
    flat = re.sub(r"\(\s+", "(", re.sub(r",\s+", ", ", text))
    assert "info(*, identifier: str, extra_query:" in flat
    assert "Calls ``GET catalog.entities.info``" in text
    assert "extra_query, extra_body, extra_headers: sent as given" in text
    assert dx.catalog.entities.info.__name__ == "info"


MISUSE = """
import dxapi
from dxapi.types import CatalogEntitiesInfoResult, NoSuchResult
import dxapi.types

async def main(dx: dxapi.Client) -> None:
    r = await dx.catalog.entities.info(identifer="x")
    await dx.catalog.entities.info(identifier=3)
    await dx.catalog.entities.info()
    ok = await dx.catalog.entities.info(identifier="x", extra_query={"v": 2})
    reveal_type(ok)
    same: CatalogEntitiesInfoResult = ok
    page = await dx.catalog.entities.list(limit=10)
    reveal_type(page.entities)
    await dx.catalog.entities.info(identifier="x", extra_headers={"X": 1})
"""


def test_mypy_types_user_code_precisely(tmp_path: Path) -> None:
    script = tmp_path / "use.py"
    script.write_text(textwrap.dedent(MISUSE))
    out, err, _ = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
            "--follow-imports=silent",
            "--python-version=3.11",
            str(script),
        ]
    )
    assert not err, err
    lines = [ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith(str(script))]
    expected = [
        'error: Module "dxapi.types" has no attribute "NoSuchResult"  [attr-defined]',
        'error: Unexpected keyword argument "identifer" for "info" of "CatalogEntities"; '
        'did you mean "identifier"?  [call-arg]',
        'error: Argument "identifier" to "info" of "CatalogEntities" has incompatible type '
        '"int"; expected "str"  [arg-type]',
        'error: Missing named argument "identifier" for "info" of "CatalogEntities"  [call-arg]',
        'note: Revealed type is "dxapi._generated.web.catalog.CatalogEntitiesInfoResult"',
        'note: Revealed type is "list[dxapi._generated.shapes.Entity]"',
        'error: Dict entry 0 has incompatible type "str": "int"; expected "str": "str"  '
        "[dict-item]",
    ]
    for want in expected:
        assert any(want in ln for ln in lines), (want, lines)
    errors = [ln for ln in lines if ln.startswith("error")]
    assert len(errors) == sum(w.startswith("error") for w in expected), errors  # no others


async def test_escape_hatches_travel_to_the_session_as_given(dx: dxapi.Client) -> None:
    seen: list[tuple[Any, Any, dict[str, Any]]] = []

    class Recorder:
        async def request(self, spec: Any, result: Any, args: dict[str, Any]) -> str:
            seen.append((spec, result, args))
            return "answer"

        def paginate(self, spec: Any, result: Any, args: dict[str, Any]) -> str:
            seen.append((spec, result, args))
            return "pages"

    ns = dx.catalog.entities
    ns._session = Recorder()  # type: ignore[assignment]
    extras: dict[str, Any] = {
        "extra_query": {"v": "2"},
        "extra_body": {"beta": True},
        "extra_headers": {"X-Trace": "t1"},
    }
    assert await ns.info(identifier="a", **extras) == "answer"
    assert ns.list(limit=5, extra_query={"q": "1"}) == "pages"  # type: ignore[comparison-overlap]
    (spec, result, args), (lspec, lresult, largs) = seen
    assert (spec.name, result) == ("catalog.entities.info", dxapi.types.CatalogEntitiesInfoResult)
    assert args == {"identifier": "a", **extras}
    assert (lspec.name, largs) == (
        "catalog.entities.list",
        {"limit": 5, "extra_query": {"q": "1"}},
    )
    assert lresult is dxapi.types.CatalogEntitiesListResult
