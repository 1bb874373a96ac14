import pytest

from codegen.naming import class_name, constant_name, py_name, snake


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("queryRuns", "query_runs"),
        ("findByGithubUsername", "find_by_github_username"),
        ("userGroups", "user_groups"),
        ("teamHierarchy", "team_hierarchy"),
        ("dxiScores", "dxi_scores"),
        ("bulkUpsert", "bulk_upsert"),
        ("getAllByReference", "get_all_by_reference"),
        ("list", "list"),
        ("platformx", "platformx"),
    ],
)
def test_snake(wire: str, python: str) -> None:
    assert snake(wire) == python


def test_keywords_get_a_trailing_underscore() -> None:
    assert py_name("from") == "from_"
    assert py_name("type") == "type"  # a builtin, not a keyword: usable as a parameter


def test_class_and_constant_names() -> None:
    assert class_name("studio.queryRuns") == "StudioQueryRuns"
    assert constant_name("studio.queryRuns.execute") == "STUDIO_QUERY_RUNS_EXECUTE"
