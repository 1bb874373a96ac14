"""Data integrity of ``call`` and ``export``: answers that cannot be written as given, pages
without their items, page counts in any JSON spelling, per-item failures, refusals that say
which they are, and spreadsheet formulas in CSV cells."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dxapi import AuthError, PaginationError
from dxapi._errors import error_from_response
from dxapi._export._records import csv_cell, dumps, write_csv
from dxapi._generated.specs import METHODS
from dxapi._pagination import next_position
from dxapi.cli.__main__ import amain
from dxapi.testing import FakeDX

EACH = ["--each", "catalog.entities.scorecards", "--each-param", "limit=100"]
LONE = "pay\udcffments"  # what JSON "pay\udcffments" decodes to: UTF-8 cannot encode it


def against(fake: FakeDX, *argv: str) -> list[str]:
    return ["--base-url", fake.url, "--token", fake.token, "--quiet", *argv]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=40, rate_limit=None) as server:
        yield server


def first_entity(fake: FakeDX) -> str:
    return sorted(fake.store.entities)[0]


# ------------------------------------------------------- answers that cannot be written


async def test_a_lone_surrogate_in_an_answer_is_printed_as_a_json_escape(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = first_entity(fake)
    fake.store.entities[ident]["name"] = LONE
    for raw in ([], ["--raw"]):
        argv = against(fake, "call", "catalog.entities.info", f"identifier={ident}", *raw)
        assert await amain(argv) == 0
        out = capsys.readouterr().out
        out.encode("utf-8")  # writable as UTF-8 …
        assert "pay\\udcffments" in out
        assert json.loads(out)["entity"]["name"] == LONE  # … and read back exactly


@pytest.mark.parametrize("each", [False, True])
async def test_a_lone_surrogate_survives_export_and_resume(
    fake: FakeDX, tmp_path: Path, each: bool
) -> None:
    ident = first_entity(fake)
    fake.store.entities[ident]["name"] = LONE
    extra = ["--each", "catalog.entities.info"] if each else []
    out = tmp_path / "out.jsonl"
    argv = against(fake, "export", "catalog.entities.list", "limit=5", *extra, "--out", str(out))
    assert await amain(argv) == 0
    got = lines(out)
    assert len(got) == 40
    names = [r["result"]["entity"]["name"] if each else r["name"] for r in got]
    assert LONE in names
    assert "pay\\udcffments" in out.read_bytes().decode("utf-8")  # strict UTF-8, escaped
    # A resume reads those lines back (as records past the claimed offset) without failing.
    cp = tmp_path / "out.jsonl.checkpoint.json"
    state = json.loads(cp.read_text())
    state.update(complete=False, offset=0, records=0, position=None, done=[])
    cp.write_text(json.dumps(state))
    sent = len(fake.requests)
    assert await amain([*argv, "--resume"]) == 0
    assert sorted(map(dumps, lines(out))) == sorted(map(dumps, got))
    again = [r for r in fake.requests[sent:] if r.method == "catalog.entities.info"]
    assert again == []  # nothing fetched twice
    assert len(fake.requests) - sent == 8  # the 8 list pages, listed again


async def test_a_lone_surrogate_in_a_csv_cell_is_written_escaped(
    fake: FakeDX, tmp_path: Path
) -> None:
    ident = first_entity(fake)
    fake.store.entities[ident]["name"] = LONE
    out = tmp_path / "out.csv"
    assert await amain(against(fake, "export", "catalog.entities.list", "--out", str(out))) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"))))
    assert len(rows) == 40
    assert {r["identifier"]: r["name"] for r in rows}[ident] == "pay\\udcffments"


def test_dumps_escapes_only_lone_surrogates() -> None:
    value = {"a": "caf\u00e9 \U0001f600", "b": "\udcff", "\ud800": ["x\udfffy"]}
    text = dumps(value)
    assert "café 😀" in text  # non-ASCII text stays as it is
    assert "\\udcff" in text
    assert "\\ud800" in text
    assert "x\\udfffy" in text
    text.encode("utf-8")
    assert json.loads(text) == value


# --------------------------------------------------------- exports that find no items


async def test_a_page_without_its_items_key_fails_the_export(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    for extra in ([], EACH):
        fake.inject("catalog.entities.list", body={"ok": True, "results": []})
        argv = against(fake, "export", "catalog.entities.list", *extra, "--out", str(out))
        assert await amain(argv) == 1
        err = capsys.readouterr().err
        assert "catalog.entities.list" in err
        assert "'entities'" in err
        assert "missing" in err
        assert not out.exists()  # nothing claims to be the export


async def test_a_list_that_is_really_empty_is_an_empty_export(
    fake: FakeDX, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    argv = against(fake, "export", "catalog.entities.list", "type=no-such-type", "--out", str(out))
    assert await amain(argv) == 0
    assert out.read_bytes() == b""
    checkpoint = json.loads((tmp_path / "out.jsonl.checkpoint.json").read_text())
    assert (checkpoint["complete"], checkpoint["records"]) == (True, 0)


async def test_a_later_page_without_items_keeps_what_was_written_for_resume(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    argv = against(fake, "export", "catalog.entities.list", "limit=10", "--out", str(out))
    page = await _first_page(fake)
    fake.inject("catalog.entities.list", body=page)  # page 1 as it is, then drift
    fake.inject("catalog.entities.list", body={"ok": True, "entities": None})
    assert await amain(argv) == 1
    assert "'entities' items are missing" in capsys.readouterr().err
    assert len(lines(out)) == 10
    assert await amain([*argv, "--resume"]) == 0
    assert len({r["identifier"] for r in lines(out)}) == 40


async def _first_page(fake: FakeDX) -> dict[str, Any]:
    async with fake.client(rate_limit=None) as dx:
        page = await dx.call("catalog.entities.list", limit=10)
    fake.reset()
    return page


@pytest.mark.parametrize("total", [3, 3.0, "3", "3.0"])
def test_page_counts_are_numbers_whatever_their_json_spelling(total: object) -> None:
    page = METHODS["userGroups.list"].page
    assert page is not None
    payload = {"groups": [], "pagination": {"total_pages": total}}
    assert next_position(page, payload, None) == 2
    assert next_position(page, payload, 2) == 3
    assert next_position(page, payload, "2") == 3
    assert next_position(page, payload, 3) is None


@pytest.mark.parametrize("total", ["three", 2.5, True, [3]])
def test_a_page_count_that_is_no_number_is_an_error_not_the_end(total: object) -> None:
    page = METHODS["userGroups.list"].page
    assert page is not None
    with pytest.raises(PaginationError, match="whole number"):
        next_position(page, {"groups": [], "pagination": {"total_pages": total}}, 1)


async def test_export_follows_page_numbers_spelt_as_text(fake: FakeDX, tmp_path: Path) -> None:
    for n in (1, 2, 3):
        groups = [{"id": f"g{n}{i}", "name": f"group {n}.{i}"} for i in range(2)]
        body = {"ok": True, "groups": groups, "pagination": {"page": n, "total_pages": "3"}}
        fake.inject("userGroups.list", body=body)
    out = tmp_path / "groups.jsonl"
    assert await amain(against(fake, "export", "userGroups.list", "--out", str(out))) == 0
    assert [r["id"] for r in lines(out)] == ["g10", "g11", "g20", "g21", "g30", "g31"]
    assert [r.query.get("page") for r in fake.requests_for("userGroups.list")] == [
        None,
        "2",
        "3",
    ]


# ------------------------------------------------------------ one item's failure


async def test_one_items_403_is_recorded_with_the_servers_message(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"ok": False, "error": "forbidden", "message": "entity is private"}
    fake.inject("catalog.entities.scorecards", status=403, body=body)
    out = tmp_path / "out.jsonl"
    argv = against(fake, "export", "catalog.entities.list", *EACH, "--out", str(out))
    assert await amain(argv) == 4
    captured = capsys.readouterr()
    assert "1 of them failed items" in captured.out
    got = lines(out)
    assert len(got) == 40  # the run went on
    failed = [r for r in got if "error" in r]
    assert len(failed) == 1
    assert failed[0]["error"] == {
        "error": "forbidden",
        "status": 403,
        "message": "entity is private",
    }
    assert set(failed[0]["args"]) == {"identifier"}
    cp = json.loads((tmp_path / "out.jsonl.checkpoint.json").read_text())
    assert cp["errors"] == 1
    assert await amain([*argv, "--resume"]) == 4  # still says some items failed


async def test_a_misspelt_each_arg_fails_before_any_request(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    for option in ("--each-arg", "--each-param"):
        value = "identifer=identifier" if option == "--each-arg" else "limt=5"
        argv = against(
            fake, "export", "catalog.entities.list", "--each", "catalog.entities.scorecards",
            option, value, "--out", str(out),
        )  # fmt: skip
        assert await amain(argv) == 2
        err = capsys.readouterr().err
        assert option in err
        assert repr(value.split("=")[0]) in err
        assert "did you mean" in err
    assert fake.requests == []
    assert not out.exists()


async def test_per_item_argument_errors_keep_their_message(fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    argv = against(
        fake, "export", "catalog.entities.list", "--each", "catalog.entities.scorecards",
        "--each-arg", "identifier=no.such.field", "--out", str(out),
    )  # fmt: skip
    assert await amain(argv) == 4
    got = lines(out)
    assert len(got) == 40
    assert all(r["error"]["error"] == "invalid_arguments" for r in got)
    assert all("identifier" in r["error"]["message"] for r in got)


async def test_each_sends_one_identifier_per_item_never_two_from_one_field(
    fake: FakeDX, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "groups.jsonl"
    argv = against(fake, "export", "userGroups.list", "--each", "teams.info", "--out", str(out))
    await amain(argv)
    sent = [r.query for r in fake.requests_for("teams.info")]
    assert sent and all(set(q) == {"team_id"} for q in sent)  # a group's id is no reference_id
    assert [r["args"] for r in lines(out)] == sent
    fake.reset()
    # An audit event's id is neither a team's id nor its reference id: refused, not guessed.
    argv = against(fake, "export", "teams.auditTrail", "--each", "teams.info", "--out", str(out))
    assert await amain(argv) == 2
    assert "--each-arg" in capsys.readouterr().err
    assert fake.requests_for("teams.info") == []


async def test_an_each_param_is_not_guessed_from_the_items(fake: FakeDX, tmp_path: Path) -> None:
    out = tmp_path / "edges.jsonl"
    argv = against(
        fake, "export", "catalog.entities.list", "--each", "catalog.relationEdges.list",
        "--each-param", "relation_identifier=owns", "--out", str(out),
    )  # fmt: skip
    await amain(argv)
    sent = [r.query for r in fake.requests_for("catalog.relationEdges.list")]
    assert len(sent) == 40
    assert {q["entity_identifier"] for q in sent} == set(fake.store.entities)
    assert {q["relation_identifier"] for q in sent} == {"owns"}


# ----------------------------------------------------------- refusals that say which


async def test_a_wrong_token_is_not_reported_as_a_missing_scope(
    fake: FakeDX, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--base-url", fake.url, "--token", "wrong", "--quiet", "call", "teams.list"]
    assert await amain(argv) == 3
    err = capsys.readouterr().err
    assert "not accepted" in err
    assert "invalid_auth" in err
    assert "the token is not valid" in err  # the server's message
    assert "scope" not in err
    assert "$DX_API_TOKEN" in err
    fake.add_token("narrow", scopes=["catalog:read"])
    argv = ["--base-url", fake.url, "--token", "narrow", "--quiet", "call", "teams.list"]
    assert await amain(argv) == 3
    err = capsys.readouterr().err
    assert "lacks a scope" in err
    assert "missing_scope" in err
    assert "teams.list needs the scope" in err  # the server's message
    assert "not accepted" not in err


@pytest.mark.parametrize(
    ("status", "payload", "reason"),
    [
        (401, {"error": "invalid_auth", "message": "bad token"}, "token"),
        (401, {"error": "not_authed"}, "token"),
        (200, {"ok": False, "error": "token_revoked"}, "token"),
        (403, {"error": "missing_scope", "needed": "catalog:read"}, "scope"),
        (403, {"error": "http_403", "needed": "catalog:read"}, "scope"),
        (403, {"error": "forbidden", "message": "entity is private"}, "forbidden"),
    ],
)
def test_auth_errors_say_whether_the_token_or_a_scope_was_refused(
    status: int, payload: dict[str, Any], reason: str
) -> None:
    exc = error_from_response("catalog.entities.list", status, payload)
    assert isinstance(exc, AuthError)
    assert exc.reason == reason
    said = {"token": "not accepted", "scope": "lacks a scope", "forbidden": "refused"}[reason]
    assert said in str(exc)
    assert payload["error"] in str(exc)
    if "message" in payload:
        assert exc.message == payload["message"]
        assert str(exc).endswith(payload["message"])


# ------------------------------------------------------------- CSV formula injection


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("-5", "-5"),
        ("+1.5e3", "+1.5e3"),
        (-5, "-5"),
        (-0.25, "-0.25"),
        (True, "true"),
        (None, ""),
        ({"a": "=1"}, '{"a":"=1"}'),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_prefixed(value: Any, cell: str) -> None:
    assert csv_cell(value) == cell


async def test_a_csv_export_defuses_formulas_and_keeps_numbers(
    fake: FakeDX, tmp_path: Path
) -> None:
    ident = first_entity(fake)
    fake.store.entities[ident]["name"] = '=HYPERLINK("http://evil","x")'
    fake.store.entities[ident]["description"] = "-3"
    out = tmp_path / "out.csv"
    assert await amain(against(fake, "export", "catalog.entities.list", "--out", str(out))) == 0
    rows = {r["identifier"]: r for r in csv.DictReader(out.read_text().splitlines())}
    assert rows[ident]["name"] == '\'=HYPERLINK("http://evil","x")'
    assert rows[ident]["description"] == "-3"


def test_csv_header_cells_are_defused_too(tmp_path: Path) -> None:
    source = tmp_path / "x.csv.part.jsonl"
    source.write_text('{"=cmd":"@x","n":-1}\n')
    write_csv(source, tmp_path / "x.csv")
    assert list(csv.reader((tmp_path / "x.csv").read_text().splitlines())) == [
        ["'=cmd", "n"],
        ["'@x", "-1"],
    ]
