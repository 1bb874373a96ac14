"""``dxapi completion bash|zsh|fish``: static scripts naming commands, options, methods."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dxapi._generated.specs import METHODS
from dxapi.cli.__main__ import main

COMMANDS = ["methods", "call", "export", "query", "serve-fake", "probe", "completion"]


def _script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_names_commands_options_and_every_method(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _script(shell, capsys)
    for command in COMMANDS:
        assert command in text
    assert "catalog.entities.list" in text and "studio.queryRuns.execute" in text
    assert all(name in text for name in METHODS)
    assert "parquet" in text  # --format's choices
    assert ("--each" in text) if shell != "fish" else ("-l each" in text)


def test_unknown_shell_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "tcsh"]) == 2
    assert "invalid choice" in capsys.readouterr().err


_BASH = """\
source "$1"
try() { COMP_WORDS=("${@:2}"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _dxapi
        echo "${COMPREPLY[*]}"; }
try x dxapi ex
try x dxapi call catalog.entities.l
try x dxapi call catalog.entities.list li
try x dxapi --token t export catalog.entities.list --each catalog.entities.sc
try x dxapi export catalog.entities.list --format p
try x dxapi call --r
try x dxapi serve-fake --tok
try x dxapi methods --family customMetr
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_methods_and_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "dxapi.bash"
    script.write_text(_script("bash", capsys))
    driver = tmp_path / "drive.sh"
    driver.write_text(_BASH)
    done = subprocess.run(
        ["bash", str(driver), str(script)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "export",
        "catalog.entities.list",
        "",  # after the method: key=value words, nothing to offer
        "catalog.entities.scorecards",
        "parquet",
        "--raw --rate-limit",
        "--token",
        "customMetrics customMetrics.delete customMetrics.list customMetrics.push",
    ]
