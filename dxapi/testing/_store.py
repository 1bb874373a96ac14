"""The fake's state: seeded, deterministic synthetic data, and opaque cursors over it.

The same ``seed`` and sizes always give the same teams, users, entity types, relations and
entities (identifiers, owners, properties, aliases), so tests can name them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import random
import uuid
import zlib
from typing import Any

import attrs

__all__ = ["Store", "decode_cursor", "encode_cursor", "encode_id"]

_ADJECTIVES = (
    "amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly",
    "keen", "lucky", "mellow", "nimble", "orange", "proud", "quiet", "rapid", "silent", "tidy",
)  # fmt: skip
_NOUNS = (
    "falcon", "harbor", "ledger", "meadow", "nebula", "orchid", "pepper", "quartz", "river",
    "summit", "tundra", "violet", "willow", "yonder", "zephyr", "anchor", "beacon", "canyon",
)  # fmt: skip
_FIRST = ("Ada", "Brian", "Chen", "Dana", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jon")
_LAST = ("Lovelace", "Kernighan", "Wu", "Scully", "Okafor", "Haddad", "Hopper", "Tanaka")
_LANGUAGES = ("Python", "Go", "TypeScript", "Ruby", "Java", "Rust", "Kotlin", "Elixir")
_TIERS = ("Tier-1", "Tier-2", "Tier-3")
ENTITY_TYPES = ("service", "library", "website", "data-pipeline", "domain")
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def encode_id(n: int) -> str:
    """A DX-style opaque id (base64 of a number, unpadded), e.g. ``MTAwMA``."""
    return base64.b64encode(str(n).encode()).decode().rstrip("=")


def stamp(seconds: float) -> str:
    """ISO-8601 UTC text ``seconds`` after 2024-01-01."""
    when = _EPOCH + dt.timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(scope: str, offset: int) -> str:
    """An opaque cursor: the offset of the next item, bound to the method and its filters."""
    raw = json.dumps([offset, zlib.crc32(scope.encode())], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str) -> int | None:
    """The offset in ``cursor``, or None if it is not one this scope issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset, check = json.loads(raw)
    except (ValueError, binascii.Error, TypeError):
        return None
    if check != zlib.crc32(scope.encode()) or not isinstance(offset, int) or offset < 0:
        return None
    return offset


@attrs.define
class Store:
    """Everything the stateful handlers read and write, keyed the way DX keys it."""

    seed: int = 0
    entities: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    entity_types: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    relations: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    edges: list[dict[str, Any]] = attrs.field(factory=list)
    teams: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    users: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    custom_data: dict[tuple[str, str], dict[str, Any]] = attrs.field(factory=dict)
    deployments: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    incidents: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    scorecards: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: A counter for ids of created objects (deterministic, never reused).
    serial: int = 0

    @classmethod
    def seeded(
        cls, seed: int = 0, *, entities: int = 100, teams: int = 12, users: int = 40
    ) -> Store:
        """Build the synthetic account for ``seed``."""
        store = cls(seed=seed)
        rng = random.Random(seed)
        store._seed_people(rng, teams, users)
        store._seed_types()
        store._seed_entities(rng, entities)
        return store

    def next_id(self) -> str:
        self.serial += 1
        return encode_id(900_000 + self.serial)

    def new_uuid(self) -> str:
        self.serial += 1
        return str(uuid.UUID(int=(self.seed << 64) + self.serial))

    # ----------------------------------------------------------------- seeding

    def _seed_people(self, rng: random.Random, teams: int, users: int) -> None:
        for i in range(users):
            uid = encode_id(5000 + i)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            self.users[uid] = {
                "id": uid,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                "github_username": f"{first.lower()}{last.lower()}{i}",
                "avatar": f"https://avatars.example.com/{uid}.png",
                "created_at": stamp(i * 3600),
            }
        user_ids = list(self.users)
        root = encode_id(1000)
        for i in range(teams):
            tid = encode_id(1000 + i)
            parent = None if i == 0 else encode_id(1000 + (i - 1) // 3)
            members = rng.sample(user_ids, k=min(len(user_ids), 3)) if user_ids else []
            self.teams[tid] = {
                "id": tid,
                "name": f"{rng.choice(_ADJECTIVES).title()} {rng.choice(_NOUNS).title()} {i}",
                "parent_id": parent,
                "parent": i * 3 + 1 < teams,
                "ancestors": [root] if parent else [],
                "manager_id": members[0] if members else None,
                "reference_id": str(uuid.UUID(int=rng.getrandbits(128))).upper(),
                "contributors": len(members),
                "last_changed_at": stamp(i * 7200),
                "members": members,
            }

    def _seed_types(self) -> None:
        for i, ident in enumerate(ENTITY_TYPES):
            self.entity_types[ident] = {
                "identifier": ident,
                "name": ident.replace("-", " ").title(),
                "description": f"Catalog {ident} entities",
                "ordering": i,
                "aliases": {"github_repo": True},
                "properties": [
                    {"identifier": "tier", "name": "Tier", "type": "select", "ordering": 0,
                     "definition": {"options": [{"value": t, "color": "#36f"} for t in _TIERS]}},
                    {"identifier": "language", "name": "Language", "type": "multi_select",
                     "ordering": 1, "definition": {"options": [{"value": v} for v in _LANGUAGES]}},
                ],
                "created_at": stamp(i * 60),
                "updated_at": stamp(i * 60),
            }  # fmt: skip
        for i, (name, kind) in enumerate(
            (("Production readiness", "LEVEL"), ("Security basics", "POINTS"), ("Draft", "LEVEL"))
        ):
            sid = encode_id(3000 + i)
            self.scorecards[sid] = {
                "id": sid, "name": name, "type": kind, "published": i < 2,
                "description": f"{name} checks", "entity_filter_type": "entity_types",
                "entity_filter_type_identifiers": ["service"], "evaluation_frequency_hours": 4,
                "checks": [], "levels": [], "tags": [],
            }  # fmt: skip
        for src, rel, dst in (
            ("service", "depends on", "service"),
            ("service", "part of", "domain"),
        ):
            ident = f"{src}-{rel.replace(' ', '-')}-{dst}"
            self.relations[ident] = {
                "identifier": ident,
                "source_entity_type_identifier": src,
                "target_entity_type_identifier": dst,
                "type": rel,
                "cardinality": "many_to_many" if rel == "depends on" else "many_to_one",
                "created_at": stamp(0),
                "updated_at": stamp(0),
            }

    def _seed_entities(self, rng: random.Random, count: int) -> None:
        team_ids, user_ids = list(self.teams), list(self.users)
        for i in range(count):
            ident = f"{_ADJECTIVES[i % 20]}-{_NOUNS[(i // 20) % 18]}-{i:05d}"
            team = self.teams[team_ids[i % len(team_ids)]] if team_ids else None
            user = self.users[user_ids[(i * 7) % len(user_ids)]] if user_ids else None
            created = stamp(86400 + i * 60)
            self.entities[ident] = {
                "identifier": ident,
                "type": ENTITY_TYPES[i % len(ENTITY_TYPES)],
                "name": ident.replace("-", " ").title(),
                "description": f"Synthetic entity number {i}",
                "domain": None,
                "owner_teams": [{"id": team["id"], "name": team["name"]}] if team else [],
                "owner_users": [_ref(user)] if user else [],
                "properties": {
                    "tier": _TIERS[rng.randrange(3)],
                    "language": rng.sample(_LANGUAGES, k=1 + i % 2),
                },
                "aliases": {
                    "github_repo": [{"identifier": str(100_000 + i), "name": f"acme/{ident}"}]
                },
                "created_at": created,
                "updated_at": created,
            }

    # ------------------------------------------------------------------ lookups

    def team_ref(self, team_id: str) -> dict[str, Any]:
        team = self.teams.get(team_id)
        return {"id": team_id, "name": team["name"] if team else None}

    def user_ref(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        return _ref(user) if user else {"id": user_id}

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["email"] == email), None)


def _ref(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "name": user["name"], "email": user["email"]}
