"""Who else manages a live object, so kfunc refuses to take over what another controller or person owns."""
from __future__ import annotations


def foreign_owner(live: dict, manager: str) -> str | None:
    """The owner that is not ``manager``: an ownerReference (``Route/demo``) or another field manager, else None.

    Field managers that only write ``status`` (controllers reporting on the object) do not count.
    """
    metadata = live.get("metadata") or {}
    for reference in metadata.get("ownerReferences") or []:
        return f"{reference.get('kind')}/{reference.get('name')} (its ownerReference)"
    for entry in metadata.get("managedFields") or []:
        if entry.get("manager") != manager and entry.get("subresource") != "status":
            return f"field manager {entry.get('manager')!r}"
    return None
