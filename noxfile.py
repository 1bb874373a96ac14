"""Developer tasks: ``nox -s codegen lint typecheck tests dist docs deps`` is what CI runs."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tarfile
import tempfile
import tomllib

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "tests", "dist", "docs", "deps"]

# The check sessions run in the environment nox was started from (installed with
# `pip install -e '.[dev]'`), so CI installs once. Benchmarks get their own environment.


@nox.session(venv_backend="none")
def codegen(session: nox.Session) -> None:
    """Fail if dxapi/_generated or docs drifted from the registry."""
    session.run("python", "-m", "codegen", "--check")


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    session.run("mypy")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    session.run("pytest", "-q", *session.posargs)


# The declared range, proven at both ends: every direct dependency at its floor on the oldest
# Python we support, and at its newest on the newest. Keep in step with requires-python and
# the classifiers in pyproject.toml.
DEPS_BOUNDS = {"lowest": ("3.11", "lowest-direct"), "newest": ("3.13", "highest")}


@nox.session(venv_backend="none")
@nox.parametrize("bound", list(DEPS_BOUNDS), ids=list(DEPS_BOUNDS))
def deps(session: nox.Session, bound: str) -> None:
    """The whole suite on the lowest (or newest) versions pyproject.toml allows.

    Needs ``uv`` and the Python of that bound (from pyenv or on PATH); fails if either is
    missing rather than proving nothing.
    """
    minor, resolution = DEPS_BOUNDS[bound]
    if shutil.which("uv") is None:
        session.error("deps needs uv: pip install uv")
    python = _find_python(minor)
    if python is None:
        session.error(f"deps-{bound} needs Python {minor}: not in pyenv, no python{minor} on PATH")
    env = os.path.abspath(os.path.join(".nox", f"deps-{bound}"))
    session.run("uv", "venv", "-q", "--clear", "-p", python, env)
    session.run(
        "uv", "pip", "install", "-q", "-p", env, "--resolution", resolution, "-e", ".[dev]"
    )
    session.run("uv", "pip", "freeze", "-p", env)  # the versions this run proves
    py = os.path.join(env, "bin", "python")
    session.run(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


def _find_python(minor: str) -> str | None:
    """The newest pyenv-installed ``minor`` (e.g. 3.11.7 for "3.11"), else python3.11."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = os.path.join(root, "versions")
    found = [
        v
        for v in (os.listdir(versions) if os.path.isdir(versions) else [])
        if re.fullmatch(re.escape(minor) + r"\.\d+", v)
    ]
    if found:
        newest = max(found, key=lambda v: int(v.rsplit(".", 1)[1]))
        return os.path.join(versions, newest, "bin", "python")
    return shutil.which(f"python{minor}")


@nox.session
def dist(session: nox.Session) -> None:
    """Build the sdist and wheel, install the wheel afresh, use it as a user would.

    The wheel's CLI runs, mypy outside the clone sees its types, and the sdist's own test
    suite collects and runs (a subset: the whole suite already ran in ``tests``).
    """
    out = tempfile.mkdtemp(prefix="dxapi-dist-")
    session.install("hatchling>=1.27")
    session.run("python", "-m", "hatchling", "build", "-d", out)
    wheel = glob.glob(os.path.join(out, "*.whl"))[0]
    sdist = glob.glob(os.path.join(out, "*.tar.gz"))[0]
    session.install(f"{wheel}[test,codegen]", "mypy==2.4.1")
    with session.chdir(out):
        session.run("dxapi", "methods", "--family", "teams", silent=True)
        session.run("python", "-m", "dxapi", "methods", "--family", "teams", silent=True)
        script = os.path.join(out, "use_dxapi.py")
        with open(script, "w") as f:
            f.write(_TYPED_USE)
        session.run("mypy", "--strict", script)
        with tarfile.open(sdist) as tar:
            tar.extractall(out, filter="data")
    unpacked = sdist.removesuffix(".tar.gz")
    with session.chdir(unpacked):
        session.run("pytest", "-q", "--collect-only", "-p", "no:cacheprovider", silent=True)
        session.run(
            "pytest", "-q", "-p", "no:cacheprovider", "tests/test_surface.py", "tests/codegen/"
        )


# A user's script: mypy must see real types through the installed package (no Any).
_TYPED_USE = """\
import dxapi


async def main() -> None:
    async with dxapi.Client(token="t") as dx:
        team = await dx.teams.info(team_id="x")
        # Under --strict an unused ignore is an error: this line fails if team were Any.
        wrong: int = team  # type: ignore[assignment]
        print(wrong)
"""


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into build/site; strict, so a broken reference fails it.

    Only the ``docs`` extra is installed: mkdocstrings reads the package's source, it does
    not import it.
    """
    with open("pyproject.toml", "rb") as f:
        session.install(*tomllib.load(f)["project"]["optional-dependencies"]["docs"])
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Measure dxapi against the alternatives; writes benchmarks/results/."""
    session.install("-e", ".", "-r", "benchmarks/requirements.txt")
    session.run("python", "-m", "benchmarks", *session.posargs)
