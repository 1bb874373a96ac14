"""Stateful Data Cloud handlers: custom data by (reference, key), deployments and incidents.

Deployments and incidents are keyed by ``reference_id``: ``create`` refuses a reused key
with different values (422), ``upsert`` patches, ``update`` never creates, ``delete`` is
idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._reply import Call, Fail, Handler, Items, Reply, not_found
from ._store import Store

__all__ = ["DataCloud"]


class DataCloud:
    """Handlers over a :class:`Store`; ``now`` gives ISO-8601 wall-clock text."""

    def __init__(self, store: Store, now: Callable[[], str]) -> None:
        self.store = store
        self.now = now

    def handlers(self) -> dict[str, Handler]:
        return {
            "customData.set": self.data_set,
            "customData.setAll": self.data_set_all,
            "customData.get": self.data_get,
            "customData.getAllByReference": self.data_by_reference,
            "customData.delete": self.data_delete,
            "customData.deleteAllByReference": self.data_delete_reference,
            "deployments.create": self.deployment_create,
            "deployments.upsert": self.deployment_upsert,
            "deployments.update": self.deployment_update,
            "deployments.delete": self.deployment_delete,
            "incidents.upsert": self.incident_upsert,
            "incidents.delete": self.incident_delete,
        }

    # -------------------------------------------------------------- customData

    def _store_record(self, item: dict[str, Any]) -> dict[str, Any]:
        key = (str(item["reference"]), str(item["key"]))
        old = self.store.custom_data.get(key)
        record = {
            "id": old["id"] if old else self.store.next_id(),
            "reference": key[0],
            "key": key[1],
            "value": item["value"],
            "timestamp": item.get("timestamp") or self.now(),
        }
        self.store.custom_data[key] = record
        return record

    def data_set(self, call: Call) -> Reply:
        return {"data": self._store_record(call.args)}

    def data_set_all(self, call: Call) -> Reply:
        items = call.args["data"]
        bad = [
            i
            for i, item in enumerate(items)
            if not isinstance(item, dict) or not {"reference", "key", "value"} <= item.keys()
        ]
        if bad:  # all or nothing
            raise Fail(422, "invalid_arguments", f"item {bad[0]} needs reference, key and value")
        return {"data": [self._store_record(item) for item in items]}

    def _find(self, args: dict[str, Any]) -> tuple[str, str]:
        if "id" in args:
            for key, record in self.store.custom_data.items():
                if record["id"] == args["id"]:
                    return key
            raise not_found("custom data record", args["id"])
        if "reference" not in args or "key" not in args:
            raise Fail(422, "invalid_arguments", "give id, or reference and key")
        key = (str(args["reference"]), str(args["key"]))
        if key not in self.store.custom_data:
            raise not_found("custom data record", "/".join(key))
        return key

    def data_get(self, call: Call) -> Reply:
        return {"data": self.store.custom_data[self._find(call.args)]}

    def data_by_reference(self, call: Call) -> Reply:
        ref = str(call.args["reference"])
        return Items(
            "data", [r for (r_ref, _), r in self.store.custom_data.items() if r_ref == ref]
        )

    def data_delete(self, call: Call) -> Reply:
        return {"data": self.store.custom_data.pop(self._find(call.args))}

    def data_delete_reference(self, call: Call) -> Reply:
        ref = str(call.args["reference"])
        gone = [k for k in self.store.custom_data if k[0] == ref]
        for key in gone:
            del self.store.custom_data[key]
        return {"deleted": len(gone)}

    # ------------------------------------------------------ deployments, incidents

    def deployment_create(self, call: Call) -> Reply:
        ref = str(call.args.get("reference_id") or self.store.new_uuid())
        fields = {**call.args, "reference_id": ref}
        old = self.store.deployments.get(ref)
        if old is not None and _without_time(old) != _without_time(fields):
            raise Fail(422, "reference_id_taken", f"deployment {ref!r} exists with other values")
        self.store.deployments[ref] = {**fields, "created_at": self.now()}
        return {"deployment": self.store.deployments[ref]}

    def deployment_upsert(self, call: Call) -> Reply:
        ref = str(call.args["reference_id"])
        old = self.store.deployments.get(ref, {"created_at": self.now()})
        self.store.deployments[ref] = {**old, **call.args, "reference_id": ref}
        return {"deployment": self.store.deployments[ref]}

    def deployment_update(self, call: Call) -> Reply:
        ref = str(call.args["reference_id"])
        if ref not in self.store.deployments:
            raise Fail(404, "deployment_not_found", f"no deployment {ref!r}")
        return self.deployment_upsert(call)

    def deployment_delete(self, call: Call) -> Reply:
        ref = str(call.args["reference_id"])
        self.store.deployments.pop(ref, None)
        return {"action": "deleted", "reference_id": ref}

    def incident_upsert(self, call: Call) -> Reply:
        ref = str(call.args["reference_id"])
        incident = dict(self.store.incidents.get(ref, {"created_at": self.now()}))
        for key, value in call.args.items():
            if key in ("services", "metadata") and value in ([], None):
                incident.pop(key, None)  # an empty value clears; an omitted one keeps
            else:
                incident[key] = value
        incident["reference_id"] = ref
        self.store.incidents[ref] = incident
        return {"incident": incident}

    def incident_delete(self, call: Call) -> Reply:
        ref = str(call.args["reference_id"])
        self.store.incidents.pop(ref, None)
        return {"action": "deleted", "reference_id": ref}


def _without_time(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "created_at"}
