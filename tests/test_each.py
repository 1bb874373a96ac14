"""dxapi._export._each: per-item arguments from listed items, and outcomes as records (pure)."""

from __future__ import annotations

import pytest

from dxapi import APIError, ArgumentError, RequestTimeoutError, TransportError
from dxapi._export._each import (
    auto_mapping,
    check_names,
    clean_result,
    error_record,
    input_key,
    map_args,
)
from dxapi._generated.specs import METHODS

SCORECARDS = METHODS["catalog.entities.scorecards"]  # identifier required, cursor-paged
TEAMS_INFO = METHODS["teams.info"]  # team_id, reference_id: both optional


def test_input_key_ignores_key_order_and_survives_non_json_values() -> None:
    assert input_key({"b": 1, "a": 2}) == input_key({"a": 2, "b": 1}) == '{"a":2,"b":1}'
    assert input_key({"when": object}) == '{"when":"<class \'object\'>"}'


def test_clean_result_drops_ok_and_the_next_page_position() -> None:
    payload = {
        "ok": True,
        "scorecards": [{"id": "s1"}],
        "response_metadata": {"next_cursor": "c2", "other": 1},
    }
    out = clean_result(payload, SCORECARDS)
    assert out == {"scorecards": [{"id": "s1"}], "response_metadata": {"other": 1}}
    assert payload["response_metadata"] == {"next_cursor": "c2", "other": 1}  # not mutated


def test_clean_result_drops_a_metadata_object_left_empty() -> None:
    payload = {"ok": True, "scorecards": [], "response_metadata": {"next_cursor": None}}
    assert clean_result(payload, SCORECARDS) == {"scorecards": []}
    assert clean_result({"ok": True, "team": {"id": "t"}}, TEAMS_INFO) == {"team": {"id": "t"}}


@pytest.mark.parametrize(
    ("error", "record"),
    [
        (
            APIError("not_found", status=404, method="teams.info", message="no team"),
            {"error": "not_found", "status": 404, "message": "no team"},
        ),
        (
            ArgumentError("teams.info", ["a is bad", "b is bad"]),
            {"error": "invalid_arguments", "status": None, "message": "a is bad; b is bad"},
        ),
    ],
)
def test_error_record_keeps_the_apis_code_and_status(
    error: Exception, record: dict[str, object]
) -> None:
    assert error_record(error) == record


def test_error_record_names_other_errors_after_their_class() -> None:
    assert error_record(RequestTimeoutError("slow", method="teams.info"))["error"] == "timeout"
    assert error_record(TransportError("reset", method="teams.info"))["error"] == "transport_error"
    assert error_record(ValueError("x")) == {
        "error": "value_error",
        "status": None,
        "message": "x",
    }


def test_check_names_refuses_unknown_arguments_with_a_hint() -> None:
    check_names(TEAMS_INFO, ["team_id"], "--each-arg")  # known: nothing raised
    with pytest.raises(ArgumentError) as info:
        check_names(TEAMS_INFO, ["team_ids", "zzz"], "--each-arg")
    first, second = info.value.problems
    assert "'team_ids'" in first and "did you mean 'team_id'?" in first
    assert "'zzz'" in second and "it takes team_id, reference_id" in second


def test_map_args_reads_dotted_paths_and_leaves_out_missing_values() -> None:
    item = {"id": "e1", "owner": {"team": {"id": "t9"}}, "gone": None}
    mapping = {"identifier": "id", "team_id": "owner.team.id", "x": "gone", "y": "nowhere"}
    assert map_args(item, mapping) == {"identifier": "e1", "team_id": "t9"}


def test_auto_mapping_maps_required_arguments_by_name_then_to_id() -> None:
    assert auto_mapping(SCORECARDS, {"identifier": "e1", "id": "x"}) == {
        "identifier": "identifier"
    }
    assert auto_mapping(SCORECARDS, {"id": "e1", "name": "n"}) == {"identifier": "id"}


def test_auto_mapping_maps_optional_arguments_when_none_is_required() -> None:
    assert auto_mapping(TEAMS_INFO, {"team_id": "t1", "name": "n"}) == {"team_id": "team_id"}


def test_auto_mapping_says_which_argument_cannot_be_mapped() -> None:
    with pytest.raises(ArgumentError) as info:
        auto_mapping(SCORECARDS, {"name": "n"})
    (problem,) = info.value.problems
    assert "'identifier'" in problem and "(fields: name)" in problem and "--each-arg" in problem
    with pytest.raises(ArgumentError, match="no argument"):
        auto_mapping(TEAMS_INFO, {"name": "n"})
