"""What validation finds: a problem names the object, the field path, what is wrong and the fix."""
from __future__ import annotations

from dataclasses import dataclass

from functions.errors import KFuncError


@dataclass(frozen=True)
class Problem:
    """One refusal: ``obj`` is ``Kind/name``, ``path`` a dotted field path like ``spec.template.spec``."""

    obj: str
    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.path}: {self.message}; fix: {self.fix}"


def object_label(obj: dict) -> str:
    """``Service/my-model`` for messages."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return f"{obj.get('kind', '?')}/{metadata.get('name', '?')}"


class ValidationFailed(KFuncError):
    """Raised with every problem found, so a user fixes them all in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) would be refused by the cluster:\n{lines}")
