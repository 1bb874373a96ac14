"""Developer tasks: ``nox -s codegen lint typecheck tests`` is what CI runs; ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "tests"]

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


@nox.session
def bench(session: nox.Session) -> None:
    """Measure dxapi against the alternatives; writes benchmarks/results/."""
    session.install("-e", ".", "-r", "benchmarks/requirements.txt")
    session.run("python", "-m", "benchmarks", *session.posargs)
