"""Knative's rules for a Service's ``spec.traffic`` (knative/serving ``route_validation.go``)."""
from __future__ import annotations

from collections.abc import Callable

from .values import dns1035_problem

Report = Callable[[str, str, str], None]


def check_traffic(traffic: list, service: str, report: Report, path: str = "spec.traffic") -> None:
    """Percents 0-100 summing to 100, unique DNS-1035 tags, a revision or the latest, never both."""
    total, tags = 0, {}
    for index, target in enumerate(traffic):
        if not isinstance(target, dict):
            continue
        where = f"{path}[{index}]"
        percent = target.get("percent")
        if isinstance(percent, int) and not isinstance(percent, bool):
            total += percent
            if not 0 <= percent <= 100:
                report(f"{where}.percent", f"{percent} is out of range", "use 0 to 100")
        _check_target(target, where, service, report)
        tag = target.get("tag")
        if tag:
            problem = dns1035_problem(str(tag))
            if problem:
                report(f"{where}.tag", problem, "use a DNS-1035 label such as 'canary' or 'prev'")
            if tag in tags:
                report(f"{where}.tag", f"tag {tag!r} is also used by {path}[{tags[tag]}]", "give each tag once")
            tags.setdefault(tag, index)
    if traffic and total != 100:
        report(path, f"traffic percents sum to {total}, want 100", "adjust the percents so they add up to 100")


def _check_target(target: dict, where: str, service: str, report: Report) -> None:
    revision = target.get("revisionName") or ""
    latest = target.get("latestRevision")
    if latest is not None and bool(revision) == bool(latest):
        if latest:
            report(f"{where}.latestRevision", f"may not set revisionName {revision!r} when latestRevision is true",
                   "drop revisionName to follow the latest revision, or set latestRevision: false")
        else:
            report(f"{where}.latestRevision", "latestRevision is false but no revisionName is given",
                   "name the revision to pin, or set latestRevision: true")
    if target.get("configurationName"):
        report(f"{where}.configurationName", "not allowed in a Service (it routes to its own configuration)",
               "remove configurationName; use revisionName or latestRevision")
    if target.get("url"):
        report(f"{where}.url", "url is set by Knative in status, not in spec", "remove url")
    if revision and not str(revision).startswith(f"{service}-"):
        report(f"{where}.revisionName", f"{revision!r} is not a revision of Service {service!r}",
               f"use a name starting with '{service}-' (see kubectl get revisions)")
