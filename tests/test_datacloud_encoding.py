"""How Data Cloud arguments travel: timestamps per method, form values, nulls, query placement.

Pure: :func:`dxapi._wire.encode_request` on the generated specs, no event loop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dxapi import ArgumentError
from dxapi._generated.shapes import AiToolMetricItem, CustomDataItem, ServiceRef
from dxapi._generated.specs import METHODS
from dxapi._spec import check_args
from dxapi._wire import Encoding, Prepared, encode_request

UTC = dt.UTC
# 2023-04-05T19:34:47Z, the Unix seconds of the reference's deployments.create example.
DEPLOYED = dt.datetime(2023, 4, 5, 19, 34, 47, tzinfo=UTC)
DEPLOYED_UNIX = 1680723287


def encode(method: str, encoding: Encoding = "json", /, **args: Any) -> Prepared:
    spec = METHODS[method]
    return encode_request(spec, check_args(spec, args), encoding)


def form(prepared: Prepared) -> dict[str, str]:
    assert prepared.form is not None and prepared.json is None
    return dict(prepared.form)


# ------------------------------------------------------------------ timestamps per method


@pytest.mark.parametrize(
    "name", ["deployments.create", "deployments.upsert", "deployments.update"]
)
def test_deployed_at_datetime_becomes_unix_seconds(name: str) -> None:
    args: dict[str, Any] = {"deployed_at": DEPLOYED}
    args.update({"service": "api"} if name == "deployments.create" else {"reference_id": "r"})
    assert encode(name, **args).json == {**args, "deployed_at": DEPLOYED_UNIX}
    assert form(encode(name, "form", **args))["deployed_at"] == str(DEPLOYED_UNIX)


def test_deployed_at_other_zones_convert_and_a_naive_datetime_is_refused() -> None:
    plus_two = DEPLOYED.astimezone(dt.timezone(dt.timedelta(hours=2)))
    prepared = encode("deployments.create", service="api", deployed_at=plus_two)
    assert prepared.json is not None and prepared.json["deployed_at"] == DEPLOYED_UNIX
    with pytest.raises(ArgumentError, match="'deployed_at' is a naive datetime"):
        encode("deployments.create", service="api", deployed_at=DEPLOYED.replace(tzinfo=None))


@pytest.mark.parametrize(
    "raw", [DEPLOYED_UNIX, DEPLOYED_UNIX * 1000, "2023-04-05T19:34:47Z", "1680723287"]
)
def test_deployed_at_raw_wire_values_pass_through(raw: int | str) -> None:
    prepared = encode("deployments.create", service="api", deployed_at=raw)
    assert prepared.json == {"deployed_at": raw, "service": "api"}
    assert form(encode("deployments.create", "form", service="api", deployed_at=raw)) == {
        "deployed_at": str(raw),
        "service": "api",
    }


@pytest.mark.parametrize(
    ("name", "base", "fields"),
    [
        ("incidents.upsert", {"reference_id": "r"}, ("started_at", "resolved_at")),
        (
            "incidents.sync",
            {"reference_id": "r", "services": ["a"]},
            ("started_at", "resolved_at"),
        ),
        (
            "pipelineRuns.upsert",
            {"reference_id": "r", "pipeline_name": "p", "pipeline_source": "s"},
            ("started_at", "finished_at"),
        ),
        ("customData.set", {"reference": "o/r", "key": "k", "value": {}}, ("timestamp",)),
        ("customMetrics.push", {"reference": "o/r", "key": "k", "value": 1.5}, ("timestamp",)),
    ],
)
def test_other_timestamps_become_iso_8601(
    name: str, base: dict[str, Any], fields: tuple[str, ...]
) -> None:
    aware = dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=UTC)
    args = {**base, **{f: aware for f in fields}}
    prepared = encode(name, **args)
    assert prepared.json is not None
    assert {f: prepared.json[f] for f in fields} == {
        f: "2024-01-01T11:22:33+00:00" for f in fields
    }
    sent = form(encode(name, "form", **args))
    assert {f: sent[f] for f in fields} == {f: "2024-01-01T11:22:33+00:00" for f in fields}


def test_incident_timestamp_text_passes_through_and_unix_is_refused() -> None:
    prepared = encode("incidents.upsert", reference_id="r", started_at="2024-01-01T11:22:33")
    assert prepared.json == {"reference_id": "r", "started_at": "2024-01-01T11:22:33"}
    with pytest.raises(ArgumentError, match="started_at"):
        encode("incidents.upsert", reference_id="r", started_at=1704108153)


def test_legacy_pipeline_sync_sends_unix_seconds() -> None:
    args = {"pipeline_name": "p", "pipeline_source": "s", "reference_id": "r"}
    prepared = encode("pipelineRuns.sync", **args, started_at=DEPLOYED)
    assert prepared.json == {**args, "started_at": DEPLOYED_UNIX}


def test_custom_metrics_list_from_goes_in_the_query_as_iso() -> None:
    prepared = encode(
        "customMetrics.list",
        reference="o/s",
        key="k",
        order="desc",
        **{"from": dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=UTC)},
    )
    assert prepared.method == "GET" and prepared.json is None and prepared.form is None
    assert dict(prepared.query) == {
        "reference": "o/s",
        "key": "k",
        "order": "desc",
        "from": "2024-01-01T11:22:33+00:00",
    }


def test_ai_tool_metric_date_accepts_a_date_or_text() -> None:
    base = {"email": "a@example.com", "is_active": True, "tool": "tabnine"}
    for day in (dt.date(2025, 1, 15), "2025-01-15"):
        prepared = encode("aiToolMetrics.push", **base, date=day)
        assert prepared.json == {**base, "date": "2025-01-15"}
        assert form(encode("aiToolMetrics.push", "form", **base, date=day))["date"] == "2025-01-15"


def test_timestamps_inside_batch_items_are_encoded() -> None:
    when = dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=UTC)
    items = [
        {"reference": "o/a", "key": "k", "value": {"v": 1}, "timestamp": when},
        CustomDataItem(reference="o/b", key="k", value={"v": 2}),
        CustomDataItem(reference="o/c", key="k", value={"v": 3}, timestamp=when),
    ]
    prepared = encode("customData.setAll", data=items)
    assert prepared.json == {
        "data": [
            {
                "reference": "o/a",
                "key": "k",
                "value": {"v": 1},
                "timestamp": "2024-01-01T11:22:33+00:00",
            },
            {"reference": "o/b", "key": "k", "value": {"v": 2}},  # unset fields are left out
            {
                "reference": "o/c",
                "key": "k",
                "value": {"v": 3},
                "timestamp": "2024-01-01T11:22:33+00:00",
            },
        ]
    }
    metric = AiToolMetricItem(email="a@x.io", date=dt.date(2025, 1, 15), is_active=False, tool="t")
    prepared = encode("aiToolMetrics.pushAll", data=[metric])
    assert prepared.json == {
        "data": [{"email": "a@x.io", "date": "2025-01-15", "is_active": False, "tool": "t"}]
    }


# ----------------------------------------------------------------- form values, nulls


def test_form_values_for_objects_and_arrays_are_json_text() -> None:
    prepared = encode(
        "deployments.create",
        "form",
        service=ServiceRef(identifier="payments-service", name="Payments"),
        deployed_at=DEPLOYED,
        merge_commit_shas=["a0e61dfff93b", "07788cacf2c"],
        metadata={"version": "v1.11.23", "tags": ["a", "b"]},
        success=True,
    )
    assert form(prepared) == {
        "service": '{"identifier":"payments-service","name":"Payments"}',
        "deployed_at": str(DEPLOYED_UNIX),
        "merge_commit_shas": '["a0e61dfff93b","07788cacf2c"]',
        "metadata": '{"version":"v1.11.23","tags":["a","b"]}',
        "success": "true",
    }
    assert form(encode("customMetrics.push", "form", reference="r", key="k", value=42.5)) == {
        "reference": "r",
        "key": "k",
        "value": "42.5",
    }


def test_nullable_incident_fields_send_null_and_others_refuse_none() -> None:
    prepared = encode(
        "incidents.upsert",
        reference_id="r",
        started_at="2024-01-01T11:22:33",
        resolved_at=None,
        services=None,
        metadata=None,
    )
    assert prepared.json == {
        "reference_id": "r",
        "started_at": "2024-01-01T11:22:33",
        "resolved_at": None,
        "services": None,
        "metadata": None,
    }
    sent = form(encode("incidents.upsert", "form", reference_id="r", started_at="x", services=[]))
    assert sent["services"] == "[]"
    sent = form(
        encode("incidents.upsert", "form", reference_id="r", started_at="x", resolved_at=None)
    )
    assert sent["resolved_at"] == ""
    with pytest.raises(ArgumentError, match="'name' is None"):
        encode("incidents.upsert", reference_id="r", started_at="x", name=None)


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_delete_all_by_reference_sends_reference_in_the_query_of_a_post(
    encoding: Encoding,
) -> None:
    prepared = encode("customData.deleteAllByReference", encoding, reference="orgname/repo")
    assert prepared.method == "POST"
    assert prepared.path == "/customData.deleteAllByReference"
    assert prepared.query == (("reference", "orgname/repo"),)
    assert prepared.json is None and prepared.form is None


def test_get_methods_send_query_whatever_the_encoding() -> None:
    for encoding in ("json", "form"):
        prepared = encode("repoGroups.get", encoding, id=123)
        assert prepared.method == "GET" and prepared.query == (("id", "123"),)
        assert prepared.json is None and prepared.form is None


# ------------------------------------------------------------- the nullable registry key


def test_nullable_is_a_registry_fact_checked_by_codegen() -> None:
    from codegen.model import RegistryError
    from codegen.validate import build

    def registry(nullable: object) -> dict[str, Any]:
        arg = {"type": "datetime", "nullable": nullable}
        method = {"http": "POST", "args": {"resolved_at": arg}}
        return {"datacloud.yaml": {"api": "datacloud", "methods": {"things.upsert": method}}}

    built = build(registry(True))
    assert built.methods["things.upsert"].spec.args[0].nullable
    with pytest.raises(RegistryError) as info:
        build(registry("yes"))
    assert (
        "datacloud.yaml: things.upsert: args.resolved_at.nullable: must be true or false"
        in info.value.problems
    )


def test_generated_signature_admits_none_only_where_nullable() -> None:
    import inspect

    import dxapi

    dc = dxapi.DataCloudClient(token="t", instance="acme")
    params = inspect.signature(dc.incidents.upsert).parameters
    assert "None" in str(params["resolved_at"].annotation)
    assert "None" not in str(params["name"].annotation)
    assert METHODS["incidents.upsert"].arg("resolved_at").nullable  # type: ignore[union-attr]


def test_with_options_refuses_an_unknown_encoding() -> None:
    import dxapi

    dc = dxapi.DataCloudClient(token="t", instance="acme")
    with pytest.raises(ValueError, match="encoding"):
        dc.with_options(encoding="xml")  # type: ignore[arg-type]
