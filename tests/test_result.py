"""dxapi._result: ``raw()`` and ``response_of()`` over what a typed result keeps (pure)."""

from __future__ import annotations

import types

import attrs
import pytest

from dxapi._result import Result, raw, response_of


@attrs.frozen
class _Team(Result):
    name: str


def _built(name: str, payload: dict[str, object]) -> _Team:
    team = _Team(name)
    object.__setattr__(team, "_dx_response", types.SimpleNamespace(status=200, payload=payload))
    return team


def test_the_kept_answer_is_outside_the_fields() -> None:
    payload = {"ok": True, "team": {"name": "core"}, "unknown": 1}
    team = _built("core", payload)
    assert raw(team) is payload and response_of(team).status == 200
    assert team == _Team("core") and repr(team) == "_Team(name='core')"
    assert attrs.asdict(team) == {"name": "core"}


def test_a_payload_dict_is_its_own_raw_form() -> None:
    payload = {"ok": True, "anything": [1]}
    assert raw(payload) is payload


@pytest.mark.parametrize("value", [_Team("hand-made"), object(), ["not", "a", "result"]])
def test_a_value_dxapi_did_not_build_has_no_response(value: object) -> None:
    with pytest.raises(TypeError, match="was not built by dxapi from an answer"):
        response_of(value)
    with pytest.raises(TypeError, match="only the result of a typed call"):
        raw(value)
