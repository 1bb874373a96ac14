"""Stateful Web API handlers: catalog entities, entity types, relations, teams, users, auth.

Writes change what later reads return. Legacy names (``entities.*``, ``entityTypes.*``)
share the handlers of their ``catalog.*`` successors.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from ._reply import Answer, Call, Fail, Handler, Items, Reply, not_found
from ._store import Store

__all__ = ["Catalog"]

_ENTITY_FIELDS = ("name", "description", "domain")


class Catalog:
    """Handlers over a :class:`Store`; ``now`` gives ISO-8601 wall-clock text."""

    def __init__(self, store: Store, now: Callable[[], str]) -> None:
        self.store = store
        self.now = now

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "catalog.entities.list": self.entities_list,
            "catalog.entities.info": self.entity_info,
            "catalog.entities.create": self.entity_create,
            "catalog.entities.update": self.entity_update,
            "catalog.entities.upsert": self.entity_upsert,
            "catalog.entities.delete": self.entity_delete,
            "catalog.entityTypes.list": self.types_list,
            "catalog.entityTypes.info": self.type_info,
            "catalog.entityTypes.create": self.type_create,
            "catalog.entityTypes.update": self.type_update,
            "catalog.entityTypes.delete": self.type_delete,
            "catalog.relations.list": self.relations_list,
            "catalog.relations.info": self.relation_info,
            "catalog.relations.create": self.relation_create,
            "catalog.relations.update": self.relation_update,
            "catalog.relations.delete": self.relation_delete,
            "catalog.relationEdges.add": self.edge_add,
            "catalog.relationEdges.remove": self.edge_remove,
            "catalog.relationEdges.list": self.edges_list,
            "catalog.entities.scorecards": self.entity_scorecards,
            "scorecards.list": self.scorecards_list,
            "scorecards.info": self.scorecard_info,
            "scorecards.create": self.scorecard_create,
            "scorecards.update": self.scorecard_update,
            "scorecards.delete": self.scorecard_delete,
            "teams.list": self.teams_list,
            "teams.info": self.team_info,
            "teams.get": self.team_info,
            "teams.findByMembers": self.teams_by_members,
            "users.list": self.users_list,
            "users.findByGithubUsername": self.user_by_github,
            "auth.whoami": self.whoami,
            "auth.info": self.auth_info,
        }
        for name in list(table):
            if name.startswith("catalog.entit"):
                table[name.removeprefix("catalog.")] = table[name]
        return table

    # ---------------------------------------------------------------- entities

    def entities_list(self, call: Call) -> Reply:
        kind, term = call.args.get("type"), str(call.args.get("search_term", "")).lower()
        items: Any = self.store.entities.values()
        if kind is not None:
            items = [e for e in items if e["type"] == kind]
        if term:
            items = [e for e in items if term in _haystack(e)]
        return Items("entities", items if isinstance(items, list) else list(items))

    def _entity(self, identifier: str) -> dict[str, Any]:
        entity = self.store.entities.get(identifier)
        if entity is None:
            raise not_found("entity", identifier)
        return entity

    def entity_info(self, call: Call) -> Reply:
        return {"entity": self._entity(call.args["identifier"])}

    def entity_create(self, call: Call) -> Reply:
        if call.args["identifier"] in self.store.entities:
            raise Fail(409, "conflict", f"entity {call.args['identifier']!r} already exists")
        return {"entity": self._write_entity(None, call.args)}

    def entity_update(self, call: Call) -> Reply:
        entity = self._entity(call.args["identifier"])
        return {"entity": self._write_entity(entity, call.args)}

    def entity_upsert(self, call: Call) -> Reply:
        entity = self.store.entities.get(call.args["identifier"])
        result = "updated_existing_entity" if entity else "created_new_entity"
        return {"entity": self._write_entity(entity, call.args), "result": result}

    def entity_delete(self, call: Call) -> Reply:
        entity = self._entity(call.args["identifier"])
        del self.store.entities[entity["identifier"]]
        return {"entity": entity}

    def _write_entity(self, old: dict[str, Any] | None, args: dict[str, Any]) -> dict[str, Any]:
        kind = args.get("type", old["type"] if old else None)
        if kind not in self.store.entity_types:
            raise Fail(422, "invalid_entity_type", f"no entity type {kind!r}")
        now = self.now()
        entity = dict(old) if old else {"identifier": args["identifier"], "created_at": now}
        entity.update({k: args[k] for k in _ENTITY_FIELDS if k in args})
        entity["type"], entity["updated_at"] = kind, now
        if "owner_team_ids" in args:
            entity["owner_teams"] = [self.store.team_ref(t) for t in args["owner_team_ids"]]
        users = [self.store.user_ref(u) for u in args.get("owner_user_ids", [])]
        for email in args.get("owner_user_emails", []):
            user = self.store.user_by_email(email)
            if user is None:
                raise Fail(422, "user_not_found", f"no user with email {email!r}")
            users.append(self.store.user_ref(user["id"]))
        if "owner_user_ids" in args or "owner_user_emails" in args:
            entity["owner_users"] = users
        if "properties" in args:
            merged = {**entity.get("properties", {}), **args["properties"]}
            entity["properties"] = {k: v for k, v in merged.items() if v is not None}
        if "aliases" in args:
            entity["aliases"] = args["aliases"]
        self.store.entities[entity["identifier"]] = entity
        return entity

    # ------------------------------------------------------------ entity types

    def types_list(self, call: Call) -> Reply:
        return Items("entity_types", list(self.store.entity_types.values()))

    def _type(self, identifier: str) -> dict[str, Any]:
        found = self.store.entity_types.get(identifier)
        if found is None:
            raise not_found("entity type", identifier)
        return found

    def type_info(self, call: Call) -> Reply:
        return {"entity_type": self._type(call.args["identifier"])}

    def type_create(self, call: Call) -> Reply:
        if call.args["identifier"] in self.store.entity_types:
            raise Fail(409, "conflict", f"entity type {call.args['identifier']!r} exists")
        now = self.now()
        found = {"created_at": now, "updated_at": now, "properties": [], **call.args}
        self.store.entity_types[found["identifier"]] = found
        return {"entity_type": found}

    def type_update(self, call: Call) -> Reply:
        found = self._type(call.args["identifier"])
        found.update(call.args, updated_at=self.now())
        return {"entity_type": found}

    def type_delete(self, call: Call) -> Reply:
        found = self._type(call.args["identifier"])
        del self.store.entity_types[found["identifier"]]
        return {"entity_type": found}

    # --------------------------------------------------------------- relations

    def relations_list(self, call: Call) -> Reply:
        return Items("relations", list(self.store.relations.values()))

    def _relation(self, identifier: str) -> dict[str, Any]:
        found = self.store.relations.get(identifier)
        if found is None:
            raise Fail(404, "relation_not_found", f"no relation {identifier!r}")
        return found

    def relation_info(self, call: Call) -> Reply:
        return {"relation": self._relation(call.args["identifier"])}

    def relation_create(self, call: Call) -> Reply:
        args = call.args
        if args["identifier"] in self.store.relations:
            raise Fail(409, "conflict", f"relation {args['identifier']!r} exists")
        for side in ("source_entity_type_identifier", "target_entity_type_identifier"):
            if args[side] not in self.store.entity_types:
                raise Fail(422, "invalid_entity_type", f"no entity type {args[side]!r}")
        now = self.now()
        found = {**args, "created_at": now, "updated_at": now}
        self.store.relations[found["identifier"]] = found
        return {"relation": found}

    def relation_update(self, call: Call) -> Reply:
        found = self._relation(call.args["identifier"])
        found.update(call.args, updated_at=self.now())
        return {"relation": found}

    def relation_delete(self, call: Call) -> Reply:
        found = self._relation(call.args["identifier"])
        del self.store.relations[found["identifier"]]
        return {"relation": found}

    def edge_add(self, call: Call) -> Reply:
        self._relation(call.args["relation_identifier"])
        for side in ("source_entity_identifier", "target_entity_identifier"):
            self._entity(call.args[side])
        edge = {k: call.args[k] for k in _EDGE_KEYS}
        if edge not in self.store.edges:
            self.store.edges.append({**edge, "created_at": self.now()})
        return {}

    def edge_remove(self, call: Call) -> Reply:
        edge = {k: call.args[k] for k in _EDGE_KEYS}
        kept = [e for e in self.store.edges if {k: e[k] for k in _EDGE_KEYS} != edge]
        if len(kept) == len(self.store.edges):
            raise Fail(404, "edge_not_found", "no such edge")
        self.store.edges[:] = kept
        return {}

    def edges_list(self, call: Call) -> Reply:
        outgoing = call.args.get("direction", "outgoing") == "outgoing"
        mine, other = (
            ("source_entity_identifier", "target_entity_identifier")
            if outgoing
            else ("target_entity_identifier", "source_entity_identifier")
        )
        edges = [
            {**e, "direction": "outgoing" if outgoing else "incoming",
             "entity": self.store.entities.get(e[other])}
            for e in reversed(self.store.edges)
            if e[mine] == call.args["entity_identifier"]
            and e["relation_identifier"] == call.args["relation_identifier"]
        ]  # fmt: skip
        return Items("entity_relations", edges)

    # -------------------------------------------------------------- scorecards

    def _scorecard(self, scorecard_id: str) -> dict[str, Any]:
        found = self.store.scorecards.get(scorecard_id)
        if found is None:
            raise not_found("scorecard", scorecard_id)
        return found

    def scorecards_list(self, call: Call) -> Reply:
        every = call.args.get("include_unpublished", False)
        cards = [c for c in self.store.scorecards.values() if every or c.get("published")]
        return Items("scorecards", cards)

    def entity_scorecards(self, call: Call) -> Reply:
        """How the entity scores on every published scorecard (deterministic per pair)."""
        entity = self._entity(call.args["identifier"])
        cards = [c for c in self.store.scorecards.values() if c.get("published")]
        return Items("scorecards", [_report(card, entity["identifier"]) for card in cards])

    def scorecard_info(self, call: Call) -> Reply:
        return {"scorecard": self._scorecard(call.args["id"])}

    def scorecard_create(self, call: Call) -> Reply:
        card = {"published": False, **call.args, "id": self.store.next_id()}
        self.store.scorecards[card["id"]] = card
        return {"scorecard": card}

    def scorecard_update(self, call: Call) -> Reply:
        card = self._scorecard(call.args["id"])
        card.update(call.args)
        return {"scorecard": card}

    def scorecard_delete(self, call: Call) -> Reply:
        del self.store.scorecards[self._scorecard(call.args["id"])["id"]]
        return {}

    # ----------------------------------------------------------- teams, users

    def teams_list(self, call: Call) -> Reply:
        return Items("teams", [_public_team(t) for t in self.store.teams.values()])

    def team_info(self, call: Call) -> Reply:
        key = call.args.get("team_id") or call.args.get("reference_id")
        team = next(
            (t for t in self.store.teams.values() if key in (t["id"], t["reference_id"])), None
        )
        if team is None:
            raise Fail(404, "team_not_found", f"no team {key!r}")
        members = [self.store.users[u] for u in team["members"] if u in self.store.users]
        detail = {k: team[k] for k in ("id", "name", "reference_id")}  # a TeamDetail
        lead = self.store.users.get(team["manager_id"] or "")
        return {"team": {**detail, "lead": lead, "contributors": members}}

    def teams_by_members(self, call: Call) -> Reply:
        emails = call.args.get("team_emails") or []
        emails = emails.split(",") if isinstance(emails, str) else emails
        ids = {u["id"] for e in emails if (u := self.store.user_by_email(e))}
        if not ids:
            raise Fail(400, "no_users_found", "no user has these emails")
        teams = [_public_team(t) for t in self.store.teams.values() if ids & set(t["members"])]
        return {"teams": teams}

    def users_list(self, call: Call) -> Reply:
        return Items("users", [_as_user(u) for u in self.store.users.values()])

    def user_by_github(self, call: Call) -> Reply:
        name = call.args.get("github_username")
        user = next((u for u in self.store.users.values() if u["github_username"] == name), None)
        if user is None:
            raise not_found("user", name)
        return {"user": _as_user(user)}

    def whoami(self, call: Call) -> Reply:
        return {"auth_token_type": "account_web_api_token", "account": {"name": "Acme (fake)"},
                "user": None, "team": None}  # fmt: skip

    def auth_info(self, call: Call) -> Reply:
        scopes = sorted(call.scopes) if call.scopes is not None else ["*"]
        auth = {"token_type": "account_web_api_token", "token_name": "fake", "scopes": scopes,
                "created_at": "2024-01-01T00:00:00Z", "expires_at": None}  # fmt: skip
        return Answer({"auth": auth, "account": {"name": "Acme (fake)"}})


_EDGE_KEYS = ("relation_identifier", "source_entity_identifier", "target_entity_identifier")


def _haystack(entity: dict[str, Any]) -> str:
    owners = [
        r.get("name") or "" for r in entity.get("owner_teams", []) + entity.get("owner_users", [])
    ]
    return " ".join([entity["identifier"], entity.get("name") or "", *owners]).lower()


def _as_user(user: dict[str, Any]) -> dict[str, Any]:
    """A stored person as a ``User`` answer: ``avatar``/``created_at`` are ``Person``-only."""
    return {k: v for k, v in user.items() if k not in ("avatar", "created_at")}


def _public_team(team: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in team.items() if k != "members"}


_CHECKS = ("Has an owner", "Runbook linked", "On-call rotation", "Dependencies up to date")
_LEVELS = ("Bronze", "Silver", "Gold")


def _report(card: dict[str, Any], identifier: str) -> dict[str, Any]:
    """One entity's result on one scorecard: which checks pass, and the level or points."""
    passes = [zlib.crc32(f"{identifier}/{card['id']}/{n}".encode()) % 3 != 0 for n in range(4)]
    checks = [
        {"id": f"{card['id']}-{n}", "name": name, "passed": ok}
        for n, (name, ok) in enumerate(zip(_CHECKS, passes, strict=True))
    ]
    passed = sum(passes)
    report: dict[str, Any] = {"id": card["id"], "name": card["name"], "type": card["type"]}
    report["checks"] = checks
    if card["type"] == "LEVEL":
        level = _LEVELS[min(passed, len(_LEVELS)) - 1] if passed else None
        report["current_level"] = {"name": level} if level else None
    else:
        report["points"] = {"earned": passed * 10, "total": len(_CHECKS) * 10}
    return report
