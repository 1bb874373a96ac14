"""``dxapi completion bash|zsh|fish``: print a shell completion script.

Commands, options and the registry's method names are written into the script, so a TAB
runs no Python. Load it with ``eval "$(dxapi completion bash)"`` (or zsh) in your shell's rc
file, or ``dxapi completion fish > ~/.config/fish/completions/dxapi.fish``; regenerate it
after an upgrade to complete newly added methods.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from pathlib import Path

import attrs

from .._generated.specs import METHODS
from ._env import out_path, plain
from .methods import families, scopes

__all__ = ["Command", "add_parser", "commands", "script"]

#: Arguments whose values are method names (by their dest); types naming files (as does a
#: metavar such as FILE or FILE.md).
_METHOD_DESTS = frozenset({"method", "methods", "each"})
_FILE_TYPES = (out_path, Path)
#: Option values completed from the registry: ``methods --family`` and ``--scope``.
_NAMED = {"family": families, "scope": scopes}
SHELLS = ("bash", "zsh", "fish")


@attrs.frozen
class Option:
    names: tuple[str, ...]
    help: str
    takes_value: bool
    values: str  # "method", "file", a space-separated choice list, or ""


@attrs.frozen
class Command:
    name: str  # "" for the options before any command
    help: str
    options: tuple[Option, ...]
    positional: str  # what the first positional completes: "method", "" for nothing


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(run=run)


def run(opts: argparse.Namespace) -> int:
    print(script(opts.shell, opts.root_parser), end="")  # set by the parser that has us
    return 0


def _values(action: argparse.Action) -> str:
    if action.dest in _METHOD_DESTS:
        return "method"
    if action.dest in _NAMED:
        return " ".join(sorted(_NAMED[action.dest]()))
    if action.choices:
        return " ".join(str(c) for c in action.choices)
    if action.type in _FILE_TYPES or "FILE" in str(action.metavar or ""):
        return "file"
    return ""


def _options(parser: argparse.ArgumentParser) -> Iterator[Option]:
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            yield Option(
                tuple(action.option_strings),
                (action.help or "").split(" (")[0],
                action.nargs != 0,
                _values(action),
            )


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """The top level (name ``""``) and every command, as the completion scripts see them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    out = [Command("", "", tuple(_options(parser)), "")]
    for name, child in sub.choices.items():
        first = next((a for a in child._actions if not a.option_strings), None)
        positional = _values(first) if first is not None else ""
        out.append(Command(name, helps.get(name, ""), tuple(_options(child)), positional))
    return out


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    if shell == "fish":
        return _fish(cmds)
    text = _bash(cmds)
    if shell == "zsh":  # zsh runs the bash function through its bash completion layer
        text = _ZSH_PRELUDE + text
    return text


_ZSH_PRELUDE = """\
# dxapi completion for zsh: the bash function below, through zsh's bashcompinit
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
"""


def _bash(cmds: list[Command]) -> str:
    methods = " ".join(sorted(METHODS))
    names = " ".join(c.name for c in cmds[1:])
    lines = [
        "# dxapi completion for bash (dxapi completion bash)",
        "_dxapi() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local cmd="" word values="" opts="" positional="" seen=0 i',
        f"    local methods={shlex.quote(methods)}",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        '        if [[ -z "$cmd" ]]; then',
        f'            case "$word" in {names.replace(" ", "|")}) cmd="$word"; continue;; esac',
        "        fi",
        '        if [[ -n "$cmd" && "$word" != -* ]] &&',
        '            ! _dxapi_takes "$cmd" "${COMP_WORDS[i-1]}"; then seen=1; fi',
        "    done",
        '    case "$cmd" in',
    ]
    for c in cmds:  # a command's options include the global ones it accepts after it
        opts = " ".join(n for o in c.options for n in o.names)
        positional = c.positional if c.name else "command"
        label = shlex.quote(c.name) if c.name else "''"
        lines.append(f"        {label})")
        lines.append(f"            opts={shlex.quote(opts)}; positional={shlex.quote(positional)}")
        lines.append('            case "$prev" in')
        for o in c.options:
            if o.takes_value:
                value = shlex.quote(o.values or "-")
                lines.append(f"                {'|'.join(o.names)}) values={value};;")
        lines.append("            esac;;")
    lines += [
        "    esac",
        '    if [[ -n "$values" ]]; then',
        '        case "$values" in',
        '            method) COMPREPLY=($(compgen -W "$methods" -- "$cur"));;',
        '            file) COMPREPLY=($(compgen -f -- "$cur"));;',
        "            -) COMPREPLY=();;",
        '            *) COMPREPLY=($(compgen -W "$values" -- "$cur"));;',
        "        esac",
        '    elif [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        '    elif [[ "$positional" == command ]]; then',
        f'        COMPREPLY=($(compgen -W {shlex.quote(names)} -- "$cur"))',
        '    elif [[ "$positional" == method && ( $seen == 0 || "$cmd" == probe ) ]]; then',
        '        COMPREPLY=($(compgen -W "$methods" -- "$cur"))',
        '    elif [[ -n "$positional" && $seen == 0 ]]; then',
        '        COMPREPLY=($(compgen -W "$positional" -- "$cur"))',
        "    fi",
        "}",
        "_dxapi_takes() {  # whether option $2 of command $1 takes a value",
        '    case "$1:$2" in',
    ]
    pairs = sorted(
        {f"{c.name}:{n}" for c in cmds for o in c.options if o.takes_value for n in o.names}
    )
    lines.append(f"        {'|'.join(pairs)}) return 0;;")
    lines += ["    esac", "    return 1", "}", "complete -o default -F _dxapi dxapi", ""]
    return "\n".join(lines)


def _fish(cmds: list[Command]) -> str:
    methods = " ".join(sorted(METHODS))
    names = " ".join(c.name for c in cmds[1:])
    lines = ["# dxapi completion for fish (dxapi completion fish)", "complete -c dxapi -f"]
    for c in cmds[1:]:
        lines.append(
            f"complete -c dxapi -n __fish_use_subcommand -a {c.name} -d {shlex.quote(c.help)}"
        )
    for c in cmds:
        cond = (
            f"'__fish_seen_subcommand_from {c.name}'"
            if c.name
            else f"'not __fish_seen_subcommand_from {names}'"
        )
        for o in c.options:
            flags = " ".join(
                f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}" for n in o.names
            )
            value = ""
            if o.values == "method":
                value = f" -x -a {shlex.quote(methods)}"
            elif o.values == "file":
                value = " -r -F"
            elif o.values:
                value = f" -x -a {shlex.quote(o.values)}"
            elif o.takes_value:
                value = " -x"
            lines.append(f"complete -c dxapi -n {cond} {flags}{value} -d {shlex.quote(o.help)}")
        if c.positional == "method":
            lines.append(f"complete -c dxapi -n {cond} -a {shlex.quote(methods)}")
        elif c.positional:
            lines.append(f"complete -c dxapi -n {cond} -a {shlex.quote(c.positional)}")
    return "\n".join(lines) + "\n"
