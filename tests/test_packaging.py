"""What a user gets from the distribution: pickling errors, ``python -m dxapi``."""

from __future__ import annotations

import copy
import inspect
import pickle
import subprocess
import sys

import pytest

import dxapi
from dxapi import _errors


def _examples() -> list[dxapi.DXError]:
    return [
        dxapi.DXError("plain"),
        dxapi.ArgumentError("teams.info", ["missing required argument 'team_id'", "unknown x"]),
        dxapi.TransportError("boom", method="teams.info", status=502),
        dxapi.RequestTimeoutError("slow", method="teams.info"),
        dxapi.APIError(
            "invalid_type", status=400, method="teams.info", message="bad", details={"a": 1}
        ),
        dxapi.RateLimitError("rate_limited", status=429, method="teams.info", retry_after=3.0),
        dxapi.AuthError("invalid_auth", status=401, method="teams.info"),
        dxapi.QueryRunFailedError(
            "query_failed",
            status=200,
            method="studio.queryRuns.info",
            job_id="r1",
            state="failed",
            job={"id": "r1"},
        ),
        dxapi.ResponseValidationError(
            "teams.info",
            result="TeamsInfoResult",
            path="team.name",
            declared="str",
            got="list",
            payload={"ok": True, "team": {"name": []}},
            status=200,
            headers={"x-request-id": "r"},
            accepted=False,
        ),
        dxapi.WorkflowRunTimeoutError(
            "timeout", status=200, method="workflowRuns.info", job_id="w1"
        ),
    ]


def test_every_error_class_is_covered() -> None:
    classes = {
        c for _, c in inspect.getmembers(_errors, inspect.isclass) if issubclass(c, dxapi.DXError)
    }
    covered = {type(e) for e in _examples()}
    # Every concrete class either appears above or shares its __init__ with one that does.
    for cls in classes - covered:
        assert any(cls.__init__ is c.__init__ for c in covered), cls


@pytest.mark.parametrize("error", _examples(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    "clone", [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy, copy.copy]
)
def test_errors_pickle_and_copy_with_their_facts(error: dxapi.DXError, clone: object) -> None:
    again = clone(error)  # type: ignore[operator]
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.args == error.args
    assert vars(again) == vars(error)


def test_python_dash_m_dxapi_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dxapi", "methods", "--family", "teams"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "teams.info" in out.stdout
