"""What the runtime knows about a method: frozen specs emitted by codegen, and argument checks.

The generated ``dxapi._generated.specs`` module builds one :class:`MethodSpec` per registry
method; the session, the fake server and the CLI read these values and never the YAML.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias

import attrs

from ._errors import ArgumentError
from ._values import header_problems, unencodable

if TYPE_CHECKING:
    from ._dialect import Dialect

__all__ = [
    "EXTRAS",
    "NO_EXTRAS",
    "UNSET",
    "ArgSpec",
    "Extras",
    "KeyedRate",
    "MethodSpec",
    "PageSpec",
    "PlainArg",
    "TypeRef",
    "Unset",
    "WaitDelay",
    "WaiterSpec",
    "adhoc_spec",
    "check_args",
    "split_extras",
]


class Unset(enum.Enum):
    """The type of :data:`UNSET`: an argument that was not given (never sent, not even null)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = Unset.UNSET

# A registry type in canonical form: a scalar name, or ("list", T) / ("map", T) /
# ("union", T, ...) / ("shape", "Name").
TypeRef: TypeAlias = str | tuple[Any, ...]
FileInput: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]
#: The HTTP verbs a method may use (DX's RPC methods use GET and POST only).
Verb: TypeAlias = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@attrs.frozen
class ArgSpec:
    """One argument of a method, named as on the wire."""

    name: str
    type: TypeRef
    required: bool = False
    doc: str = ""
    #: "query" or "body"; "auto" puts GET (and DELETE) arguments in the query and the others
    #: in the body. A REST method's "path" arguments fill its path template, "header" ones
    #: travel as the header its dialect names.
    location: Literal["auto", "query", "body", "path", "header"] = "auto"
    enum: tuple[str, ...] = ()
    #: How a datetime travels: "iso" (ISO-8601 text), "unix" (integer seconds) or
    #: "unix_text" (integer seconds written as a JSON string, as ``events.track`` wants).
    format: Literal["iso", "unix", "unix_text"] = "iso"
    #: The server's default when the argument is left out (documentation only, never sent).
    default: Any = None
    #: For a map argument: each entry travels as its own parameter named prefix + key
    #: (``queries.datafeed``'s ``variables={"repo": "x"}`` → ``var-repo=x``).
    prefix: str | None = None
    #: ``None`` is sent as an explicit null (e.g. "clear this field"), unlike leaving it out.
    nullable: bool = False


@attrs.frozen
class PageSpec:
    """How a list method pages: which argument carries the position and where the next one is."""

    items: str
    input: str = "cursor"
    #: Dotted path to the next position in a page (a cursor, or a page number).
    output: str = "response_metadata.next_cursor"
    #: Dotted path to the page count, for APIs that give one instead of a next position.
    total: str | None = None
    style: Literal["cursor", "page"] = "cursor"
    limit: str | None = "limit"


@attrs.frozen
class KeyedRate:
    """A per-key request limit (e.g. 10 polls per 5 s per query run), on top of the account's."""

    requests: int
    per: float
    key: str


@attrs.frozen
class MethodSpec:
    """Everything the runtime needs to call one DX method."""

    name: str
    http: Verb
    api: str
    scope: str | None = None
    args: tuple[ArgSpec, ...] = ()
    idempotent: bool = False
    summary: str = ""
    page: PageSpec | None = None
    deprecated: str | None = None
    #: Per-key rate limit enforced client-side (and by the fake server).
    rate_limit: KeyedRate | None = None
    #: Name of the argument sent as a multipart file upload.
    upload: str | None = None
    #: The answer is a file: a body to stream, or a redirect to follow without the token.
    download: bool = False
    #: Error code meaning "not ready yet, ask again after Retry-After".
    pending_error: str | None = None
    #: An argument whose presence makes the call safe to repeat (an idempotency key).
    idempotent_when: str | None = None
    #: Result shape name (documentation and the fake server).
    result: str | None = None
    #: The answer is a bare JSON array (no ``ok`` envelope); it is typed under this key.
    bare_array: str | None = None
    #: A legacy name of this method (same arguments and answer), called by its own path.
    alias_of: str | None = None
    #: A REST method's path, ``{name}`` standing for its "path" arguments (None: ``/name``).
    path_template: str | None = None
    #: The statuses that mean success (a REST method's; DX's methods take any 2xx).
    success: tuple[int, ...] = ()
    #: A REST API's auth, envelope and rate headers (None: DX's RPC dialect).
    dialect: Dialect | None = None
    #: Derived, not part of the spec's value: the arguments by name, and where each travels
    #: ("query", "body", "path" or "header"; "auto" resolved by the verb).
    args_by_name: Mapping[str, ArgSpec] = attrs.field(init=False, eq=False, repr=False, hash=False)
    locations: Mapping[str, str] = attrs.field(init=False, eq=False, repr=False, hash=False)
    #: Derived: how each argument may take the plain lane (:func:`dxapi._prepare.plain`),
    #: or None when this method's calls always take the full rules.
    plain: Mapping[str, PlainArg] | None = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    #: Derived: how many arguments are required.
    required: int = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "args_by_name", {a.name: a for a in self.args})
        auto = "query" if self.http in ("GET", "DELETE") else "body"
        where = {a.name: auto if a.location == "auto" else a.location for a in self.args}
        object.__setattr__(self, "locations", where)
        object.__setattr__(self, "plain", _plain_args(self, where))
        object.__setattr__(self, "required", sum(a.required for a in self.args))

    @property
    def path(self) -> str:
        return self.path_template or "/" + self.name

    def arg(self, name: str) -> ArgSpec | None:
        return self.args_by_name.get(name)


class PlainArg(NamedTuple):
    """What an argument takes on the plain lane: a value of one of ``types`` (exactly), in
    ``enum`` when there is one, sent in the query or the body."""

    types: tuple[type, ...]
    enum: frozenset[str]
    required: bool
    query: bool


#: The exact value types each scalar registry type takes on the plain lane; what the full
#: rules would send for them is the value itself (str), its decimal text (int) or
#: true/false (bool). Any other value (a float, None, a datetime, a list) takes the full rules.
_PLAIN_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "str": (str,),
    "date": (str,),
    "datetime": (str,),
    "int": (int,),
    "float": (int,),
    "bool": (bool,),
    "json": (str, int, bool),
}


def _plain_args(spec: MethodSpec, where: Mapping[str, str]) -> dict[str, PlainArg] | None:
    """The plain lane's rules for ``spec``, or None when its calls need the full rules (a REST
    path or header, an upload, a deprecation warning, an idempotency key, a spread map)."""
    if (
        spec.path_template is not None
        or spec.dialect is not None
        or spec.upload is not None
        or spec.deprecated is not None
        or spec.idempotent_when is not None
        or any(a.prefix is not None or where[a.name] not in ("query", "body") for a in spec.args)
    ):
        return None
    return {
        a.name: PlainArg(
            _PLAIN_TYPES.get(a.type, ()) if isinstance(a.type, str) else (),
            frozenset(a.enum),
            a.required,
            where[a.name] == "query",
        )
        for a in spec.args
    }


@attrs.frozen
class WaitDelay:
    """How long to wait between polls when the server sends no Retry-After.

    The first wait is ``initial`` seconds; each next one is ``multiplier`` times longer, up to
    ``max``. A Retry-After from the server always wins (capped by the waiter's deadline).
    """

    initial: float = 1.0
    max: float = 10.0
    multiplier: float = 1.5

    def after(self, polls: int) -> float:
        """The wait after poll number ``polls`` (1-based)."""
        return min(self.max, self.initial * self.multiplier ** max(0, polls - 1))


@attrs.frozen
class WaiterSpec:
    """How to wait for an asynchronous job (a registry ``waiters:`` entry), like botocore's.

    Poll ``poll`` with the job id in argument ``id_arg``; read the state at the dotted path
    ``status``; ``pending`` states mean ask again, ``success`` states end the wait, and each
    ``failure`` state raises the named :mod:`dxapi._errors` class carrying the object at
    ``error`` (the server's reason). Any other state is unexpected and raises ``JobError``.
    """

    name: str
    poll: str
    id_arg: str
    status: str
    pending: tuple[str, ...]
    success: tuple[str, ...]
    #: (state, error class name) pairs.
    failure: tuple[tuple[str, str], ...] = ()
    #: Dotted path to the job object in the poll's payload (returned when the wait ends).
    job: str | None = None
    #: Dotted path to the server's error object of a failed job.
    error: str | None = None
    #: The method that starts such a job, and the dotted path of the new job's id in its payload.
    start: str | None = None
    start_id: str | None = None
    #: Error class name raised when the wait's deadline runs out (a TimeoutError).
    timeout_error: str = "JobError"
    delay: WaitDelay = WaitDelay()
    doc: str = ""

    def failure_error(self, state: str) -> str | None:
        for name, cls in self.failure:
            if name == state:
                return cls
        return None


def check_args(spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the arguments that were given, or raise one ArgumentError listing every problem.

    Besides fitting its declared type, every value must travel exactly as given (see
    :func:`unencodable`), and an idempotency key must not be blank. The escape hatches
    (:data:`EXTRAS`) are checked too and stay in the returned mapping for ``encode_request``.
    """
    given, extras, problems = split_extras(spec, args)
    known = spec.args_by_name
    problems += [f"unknown argument {name!r}" for name in given if name not in known]
    for a in spec.args:
        if a.name not in given:
            if a.required:
                problems.append(f"missing required argument {a.name!r}")
            continue
        value = given[a.name]
        if value is None:
            if a.nullable:
                continue
            problems.append(f"argument {a.name!r} is None; leave it out instead")
            continue
        problem = _check_value(value, a.type, a)
        if problem is None and a.type != "file":  # an upload is checked by its own rules
            problem = unencodable(value)
        if problem:
            problems.append(f"argument {a.name!r}{problem}")
        elif a.enum and value not in a.enum:
            problems.append(f"argument {a.name!r} must be one of {list(a.enum)}, got {value!r}")
        elif a.name == spec.idempotent_when and isinstance(value, str) and not value.strip():
            problems.append(
                f"argument {a.name!r} is blank: an idempotency key must name the write (a blank "
                "one would make dxapi resend it and let DX take other writes for repeats)"
            )
    if problems:
        raise ArgumentError(spec.name, problems)
    if extras:  # kept, checked, under their own names: encode_request splits them off again
        given.update((k, args[k]) for k in EXTRAS if args.get(k))
    return given


# --------------------------------------------------------------------- escape hatches

#: The argument names that carry a call's escape hatches, on every method and ``dx.call``.
EXTRAS: Final = ("extra_query", "extra_body", "extra_headers")
_EXTRA_KEYS: Final = frozenset(EXTRAS)


@attrs.frozen
class Extras:
    """A call's escape hatches, checked: sent as given, on top of the declared arguments."""

    query: Mapping[str, Any] = attrs.field(factory=dict)
    body: Mapping[str, Any] = attrs.field(factory=dict)
    headers: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.query or self.body or self.headers)


NO_EXTRAS: Final = Extras()


def split_extras(
    spec: MethodSpec, args: Mapping[str, Any]
) -> tuple[dict[str, Any], Extras, list[str]]:
    """(the given declared arguments, the escape hatches, every problem with the hatches).

    ``extra_query``, ``extra_body`` and ``extra_headers`` are mappings with str keys, or
    None/UNSET for "not given". Their values must travel as given (:func:`unencodable`); a
    query value must not be None; header names are HTTP tokens, values visible ASCII, and
    :data:`~dxapi._values.RESERVED_HEADERS` are refused. A GET has no body, so
    ``extra_body`` is refused there.
    """
    given: dict[str, Any] = {}
    found: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for name, value in args.items():
        if value is UNSET:
            continue
        if name not in _EXTRA_KEYS:
            given[name] = value
        elif value is None or (isinstance(value, Mapping) and not value):
            continue
        elif not isinstance(value, Mapping):
            problems.append(f"{name} must be a mapping, got {type(value).__name__}")
        else:
            found[name] = value
    if not found:
        return given, NO_EXTRAS, problems
    for name, entries in found.items():
        for key, value in entries.items():
            where = f"{name}[{key!r}]"
            if not isinstance(key, str) or not key:
                problems.append(f"{name} has the key {key!r}; keys are non-empty str")
            elif problem := unencodable(key):
                problems.append(f"{name} key{problem}")
            elif name == "extra_headers":
                problems += header_problems(key, value)
            elif name == "extra_query" and value is None:
                problems.append(f"{where} is None; leave it out instead")
            elif problem := unencodable(value):
                problems.append(f"{where}{problem}")
    if "extra_body" in found and spec.http in ("GET", "DELETE"):
        problems.append(
            f"extra_body cannot be sent: {spec.http} {spec.name} has no body; use extra_query"
        )
    headers = found.get("extra_headers", {})
    if spec.dialect is not None:  # a REST API's key header is its token: another client's
        secret = {a.header.lower() for a in spec.dialect.auth}
        problems += [
            f"extra_headers[{k!r}] cannot be set per call: it carries the credentials"
            for k in headers
            if str(k).lower() in secret
        ]
    lower = [str(k).lower() for k in headers]
    problems += [f"extra_headers sets {k!r} twice" for k in set(lower) if lower.count(k) > 1]
    extras = Extras(
        found.get("extra_query", {}),
        found.get("extra_body", {}),
        tuple((str(k), v) for k, v in headers.items()),
    )
    return given, extras, problems


_METHOD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+\Z")


def adhoc_spec(
    api: str,
    name: str,
    http: Literal["GET", "POST"],
    *,
    idempotent: bool,
    like: MethodSpec | None = None,
) -> MethodSpec:
    """An open spec for a method the registry lacks: no declared arguments, so everything
    travels through the escape hatches, as given.

    ``name`` must have the ``family.method`` form (letters, digits and ``_`` between dots).
    ``like``, the registry's spec of the same name if any, lends the facts that protect the
    exchange (its per-key rate limit, a bare-array answer) and nothing else. The key itself
    travels among the extras, so such calls share one per-key budget: slower, never refused.
    """
    if not isinstance(name, str) or not _METHOD_NAME.match(name):
        shown = repr(name)[:80]
        raise ArgumentError(
            shown, [f"{shown} is not a method name of the form family.method (e.g. teams.list)"]
        )
    return MethodSpec(
        name=name,
        http=http,
        api=api,
        idempotent=idempotent,
        summary="a method called by name, outside the registry",
        rate_limit=like.rate_limit if like else None,
        bare_array=like.bare_array if like else None,
    )


def _describe(t: TypeRef) -> str:
    if isinstance(t, str):
        return t
    kind = t[0]
    if kind == "union":
        return " | ".join(_describe(x) for x in t[1:])
    if kind == "shape":
        return str(t[1])
    return f"{kind}[{_describe(t[1])}]"


def _check_value(value: Any, t: TypeRef, arg: ArgSpec) -> str | None:
    """Return why ``value`` does not fit ``t``, or None."""
    if _fits(value, t, arg):
        return None
    return f" must be {_describe(t)}, got {type(value).__name__}"


def _fits(value: Any, t: TypeRef, arg: ArgSpec) -> bool:
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "list":
            return isinstance(value, list | tuple) and all(_fits(v, t[1], arg) for v in value)
        if kind == "map":
            return isinstance(value, Mapping) and all(
                isinstance(k, str) and _fits(v, t[1], arg) for k, v in value.items()
            )
        if kind == "union":
            return any(_fits(value, x, arg) for x in t[1:])
        if kind == "shape":
            return isinstance(value, Mapping) or attrs.has(type(value))
        return False
    check = _SCALAR_CHECKS.get(t)
    return check is not None and check(value, arg)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# Scalar type name → (value, its ArgSpec) → does it fit. Built once, not per argument.
_SCALAR_CHECKS: dict[str, Callable[[Any, ArgSpec], bool]] = {
    "str": lambda v, _: isinstance(v, str),
    "int": lambda v, _: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v, _: _is_number(v),  # NaN and infinities: see unencodable()
    "bool": lambda v, _: isinstance(v, bool),
    "json": lambda v, _: True,
    "date": lambda v, _: isinstance(v, dt.date | str) and not isinstance(v, dt.datetime),
    "datetime": lambda v, arg: (
        isinstance(v, dt.datetime | str) or (arg.format != "iso" and _is_number(v))
    ),
    "file": lambda v, _: (
        isinstance(v, str | os.PathLike | bytes | bytearray)
        or (hasattr(v, "read") and not isinstance(v, str))
    ),
}
