"""dxapi._export._each: per-item arguments from listed items, and outcomes as records (pure)."""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest

from dxapi import APIError, ArgumentError, RequestTimeoutError, TransportError
from dxapi._export._each import (
    auto_mapping,
    check_names,
    clean_result,
    error_record,
    input_key,
    item_kinds,
    map_args,
)
from dxapi._generated.specs import METHODS
from dxapi._naming import snake
from dxapi._spec import ArgSpec, MethodSpec
from dxapi.testing._synth import item_type, result_class, synthesize

SCORECARDS = METHODS["catalog.entities.scorecards"]  # identifier required, cursor-paged
TEAMS_INFO = METHODS["teams.info"]  # team_id, reference_id: both optional
SCORECARDS_INFO = METHODS["scorecards.info"]  # id required


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
    entity = {"entity"}
    assert auto_mapping(SCORECARDS, {"identifier": "e1", "id": "x"}, entity) == {
        "identifier": "identifier"
    }
    assert auto_mapping(SCORECARDS, {"id": "e1", "name": "n"}, entity) == {"identifier": "id"}


def test_auto_mapping_maps_optional_identifiers_when_none_is_required() -> None:
    assert auto_mapping(TEAMS_INFO, {"team_id": "t1", "name": "n"}, {"group"}) == {
        "team_id": "team_id"
    }


def test_a_team_listing_gives_team_id_alone_never_reference_id_from_the_same_id() -> None:
    # teams.info takes team_id or reference_id (DX's id or the organization's own one):
    # a team's id is its team_id, and nothing else of the item is a reference id.
    assert auto_mapping(TEAMS_INFO, {"id": "t1", "name": "n"}, {"team"}) == {"team_id": "id"}
    both = {"id": "t1", "reference_id": "r1"}
    assert auto_mapping(TEAMS_INFO, both, {"team"}) == {
        "team_id": "id",
        "reference_id": "reference_id",
    }


def test_thing_id_maps_to_id_only_when_the_items_are_that_thing() -> None:
    # an audit event's id, a group's id: neither is a team's id
    for kinds in ({"event"}, {"group", "user_group"}, set()):
        with pytest.raises(ArgumentError, match="--each-arg") as info:
            auto_mapping(TEAMS_INFO, {"id": "x1", "team": "t"}, kinds)
        assert "team_id, reference_id" in info.value.problems[0]
    assert auto_mapping(SCORECARDS_INFO, {"id": "s1"}, {"scorecard"}) == {"id": "id"}
    with pytest.raises(ArgumentError, match=r"the listed items are user\b"):
        auto_mapping(SCORECARDS_INFO, {"id": "u1", "email": "e"}, {"user"})


def test_a_methods_own_id_maps_to_the_field_naming_its_thing() -> None:
    initiative = {"id": "i1", "scorecard_id": "s1", "name": "n"}
    assert auto_mapping(SCORECARDS_INFO, initiative, {"initiative"}) == {"id": "scorecard_id"}
    edge = {"relation_identifier": "r", "source_entity_identifier": "e", "direction": "x"}
    assert auto_mapping(METHODS["catalog.relations.info"], edge, {"relation_edge"}) == {
        "identifier": "relation_identifier"
    }


def test_an_argument_several_fields_fit_is_refused_naming_them() -> None:
    with pytest.raises(ArgumentError) as info:
        auto_mapping(SCORECARDS_INFO, {"id": "s1", "scorecard_id": "s0"}, {"scorecard"})
    (problem,) = info.value.problems
    assert "'id' fits several fields" in problem and "(id, scorecard_id)" in problem
    assert "--each-arg id=FIELD" in problem


def test_two_arguments_are_never_mapped_from_one_field() -> None:
    arg = functools.partial(ArgSpec, type="str", required=True)
    spec = MethodSpec("teams.compare", "GET", "web", args=(arg("id"), arg("team_id")))
    with pytest.raises(ArgumentError) as info:
        auto_mapping(spec, {"id": "t1"}, {"team"})
    (problem,) = info.value.problems
    assert "'id' and 'team_id' would all come from field 'id'" in problem
    assert "--each-arg ARG=id" in problem


def test_fixed_arguments_are_not_guessed() -> None:
    edges = METHODS["catalog.relationEdges.list"]  # entity_identifier, relation_identifier
    entity = {"identifier": "e1", "name": "n"}
    with pytest.raises(ArgumentError, match="'relation_identifier'"):
        auto_mapping(edges, entity, {"entity"})
    fixed = {"relation_identifier"}
    assert auto_mapping(edges, entity, {"entity"}, fixed) == {"entity_identifier": "identifier"}
    # an --each-param the item also has stays the user's value, not overridden per item
    with pytest.raises(ArgumentError, match="no identifier argument"):
        auto_mapping(SCORECARDS, {"identifier": "e1"}, {"entity"}, {"identifier"})


def test_auto_mapping_says_which_argument_cannot_be_mapped() -> None:
    with pytest.raises(ArgumentError) as info:
        auto_mapping(SCORECARDS, {"name": "n"}, {"entity"})
    (problem,) = info.value.problems
    assert "'identifier'" in problem and "(fields: name;" in problem and "--each-arg" in problem
    with pytest.raises(ArgumentError, match="no identifier argument"):
        auto_mapping(TEAMS_INFO, {"name": "n"}, {"team"})


@pytest.mark.parametrize(
    ("listing", "kinds"),
    [
        ("catalog.entities.list", {"entity"}),
        ("catalog.entityTypes.list", {"entity_type"}),
        ("userGroups.list", {"group", "user_group"}),
        ("teams.auditTrail", {"event"}),
        ("snapshots.csatComments.list", {"comment", "csat_comment"}),
    ],
)
def test_item_kinds_come_from_the_items_key_and_a_list_methods_family(
    listing: str, kinds: set[str]
) -> None:
    assert item_kinds(METHODS[listing]) == kinds


def _item(listing: MethodSpec) -> dict[str, Any]:
    """One listed item as the fake answers it: every field of the registry's item shape."""
    assert listing.page is not None
    cls = result_class(listing)
    item_cls = item_type(cls, listing.page.items) if cls is not None else None
    return synthesize(item_cls) if attrs.has(item_cls) else {}


LISTINGS = [s for s in METHODS.values() if s.page is not None]


def _outcome(each: MethodSpec, item: dict[str, Any], kinds: frozenset[str]) -> Any:
    try:
        return auto_mapping(each, item, kinds)
    except ArgumentError as exc:
        return exc.problems


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda s: s.name)
def test_every_pairing_maps_each_field_once_or_is_refused_naming_each_arg(
    listing: MethodSpec,
) -> None:
    item, kinds = _item(listing), item_kinds(listing)
    for each in (s for s in METHODS.values() if s.api == listing.api):
        outcome = _outcome(each, item, kinds)
        where = f"{listing.name} --each {each.name}: {outcome}"
        if isinstance(outcome, list):  # refused: every problem says how to map it by hand
            assert outcome and all("--each-arg" in p for p in outcome), where
            continue
        assert outcome and len(set(outcome.values())) == len(outcome), where
        assert set(outcome.values()) <= set(item), where
        paging = {each.page.input, each.page.limit} if each.page else set()
        assert not paging & set(outcome), where
        required = {a.name for a in each.args if a.required} - paging
        assert required <= set(outcome), where
        for name, field in outcome.items():
            if name != field and field in ("id", "identifier"):  # the item's own id
                thing = name.rpartition("_")[0] or each.name.split(".")[-2]
                assert singular(thing) in kinds, where


@pytest.mark.parametrize(
    ("listing", "each", "mapping"),
    [
        ("catalog.entities.list", "catalog.entities.scorecards", {"identifier": "identifier"}),
        ("catalog.entities.list", "workflows.list", {"entity_identifier": "identifier"}),
        ("catalog.entities.list", "teams.info", None),  # owner_teams.0.id: --each-arg
        ("userGroups.list", "teams.info", {"team_id": "team_id"}),
        ("userGroups.list", "userGroups.get", {"id": "id"}),
        ("teams.auditTrail", "teams.info", None),  # an event's id is not a team's
        ("initiatives.list", "scorecards.info", {"id": "scorecard_id"}),
        ("initiatives.list", "initiatives.progressReport", {"id": "id"}),
        ("users.list", "scorecards.info", None),  # a user's id is not a scorecard's
        ("users.list", "users.findByGithubUsername", {"github_username": "github_username"}),
        ("catalog.relationEdges.list", "catalog.relations.info", {"identifier": "relation_identifier"}),
    ],
)  # fmt: skip
def test_known_pairings_map_as_dx_means_them(
    listing: str, each: str, mapping: dict[str, str] | None
) -> None:
    spec = METHODS[listing]
    outcome = _outcome(METHODS[each], _item(spec), item_kinds(spec))
    assert outcome == mapping if mapping is not None else isinstance(outcome, list)


def singular(word: str) -> str:
    word = snake(word)
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")
