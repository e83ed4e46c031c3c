"""Value formats Kubernetes and Knative share: Go durations, quantities, DNS names."""
from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# The pattern Kubernetes puts on every resource quantity (resources.requests/limits).
QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def parse_duration(text: str) -> float | None:
    """Go ``time.ParseDuration`` in seconds (``"1m30s"`` -> 90.0); None when ``text`` is not one."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        return None
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return sign * total if position == len(body) else None


def check_duration(text: str, low: float, high: float, whole_seconds: bool = True) -> str | None:
    """An error message unless ``text`` is a Go duration within ``[low, high]`` seconds."""
    seconds = parse_duration(text)
    if seconds is None:
        return f"{text!r} is not a duration; write it like 30s, 5m or 1h"
    if not low <= seconds <= high:
        return f"{text!r} is out of range; use {_human(low)} to {_human(high)}"
    if whole_seconds and seconds != int(seconds):
        return f"{text!r} must be whole seconds"
    return None


def check_quantity(text: str) -> str | None:
    """An error message unless ``text`` is a Kubernetes quantity (``500m``, ``2Gi``, ``1``)."""
    return None if QUANTITY.match(text) else f"{text!r} is not a quantity; write it like 500m, 2, 512Mi or 4Gi"


def dns1035_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1035 label (what Knative requires of names and tags), or None."""
    if len(name) > 63:
        return f"{name!r} is longer than 63 characters"
    if not DNS1035_LABEL.match(name):
        return f"{name!r} must be lowercase letters, digits and '-', start with a letter and end with a letter or digit"
    return None


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
