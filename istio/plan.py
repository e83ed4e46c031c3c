"""What a function's traffic should look like: a split between versions, tester routes, mirror, timeouts.

A :class:`TrafficPlan` is checked when it is built, so every object rendered from it is one the
cluster accepts. The ``parse_*`` functions read the command-line spellings
(``blue=90``, ``x-canary=true -> green``, ``green=10``) and name the option in their errors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from functions.errors import ConfigError
from knative.mode_settings import MODES
from knative.values import dns1035_problem, parse_duration

MATCH_KINDS = ("exact", "prefix", "regex")
_HEADER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# "NAME=VALUE -> VERSION" (exact), "NAME^=VALUE -> VERSION" (prefix), "NAME~=REGEX -> VERSION" (regex)
_ROUTE = re.compile(r"^\s*(?P<name>[^=^~\s]+)\s*(?P<op>\^=|~=|=)(?P<value>.*?)\s*->\s*(?P<target>\S+)\s*$")
_OPS = {"=": "exact", "^=": "prefix", "~=": "regex"}


@dataclass(frozen=True)
class HeaderRoute:
    """Requests whose ``header`` matches ``value`` (``match`` exact/prefix/regex) all go to ``target``."""

    header: str
    match: str
    value: str
    target: str

    @property
    def route_name(self) -> str:
        return f"{self.target}-by-{re.sub(r'[^a-z0-9-]', '-', self.header)}"


@dataclass(frozen=True)
class Mirror:
    """Copy ``percent`` of the split route's requests to ``target``; its responses are discarded."""

    target: str
    percent: float


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout: str | None = None
    retry_on: str | None = None


@dataclass(frozen=True)
class TrafficPlan:
    """The whole routing of one function: ``weights`` maps version (``blue``) to percent."""

    function: str
    namespace: str
    weights: dict[str, int]
    public_host: str | None = None
    header_routes: tuple[HeaderRoute, ...] = ()
    mirror: Mirror | None = None
    timeout: str | None = None
    retries: Retries | None = None
    versions: tuple[str, ...] = field(default=())
    mode: str = "knative"  # how the versions run (deploy.mode): knative, raw or keda

    def __post_init__(self) -> None:
        known = tuple(dict.fromkeys([*self.versions, *self.weights]))
        object.__setattr__(self, "versions", known)
        _check_plan(self)

    def with_weights(self, weights: dict[str, int]) -> "TrafficPlan":
        """The same routing with another split (every version of this plan stays known)."""
        return replace(self, weights={v: weights.get(v, 0) for v in self.versions})

    def served_versions(self) -> list[str]:
        """The versions some request goes to: a weight over 0, a header route or the mirror."""
        routed = {route.target for route in self.header_routes} | ({self.mirror.target} if self.mirror else set())
        return [v for v in self.versions if self.weights.get(v, 0) > 0 or v in routed]

    def all_to(self, version: str) -> "TrafficPlan":
        return self.with_weights({version: 100})


def _check_plan(plan: TrafficPlan) -> None:
    problem = dns1035_problem(plan.function)
    if problem:
        raise ConfigError(f"function name: {problem}")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", plan.namespace):
        raise ConfigError(f"--namespace {plan.namespace!r}: not a DNS-1123 label (lowercase letters, digits and '-')")
    if not plan.weights:
        raise ConfigError("weights: give at least one version, e.g. blue=100")
    for version, weight in plan.weights.items():
        problem = dns1035_problem(f"{plan.function}-{version}")
        if problem:
            raise ConfigError(f"version {version!r}: the Knative Service name {problem}")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise ConfigError(f"weight of {version!r}: {weight!r} is not a whole percent 0-100")
    total = sum(plan.weights.values())
    if total != 100:
        raise ConfigError(f"weights: {spell_weights(plan.weights)} sum to {total}, want 100; adjust them so they add up to 100")
    for route in plan.header_routes:
        _check_target(plan, route.target, f"route {route.header} -> {route.target}")
        if not _HEADER_NAME.match(route.header):
            raise ConfigError(f"--header {route.header!r}: header names are lowercase letters, digits, '-', '_' or '.'")
        if route.match not in MATCH_KINDS:
            raise ConfigError(f"--header {route.header}: match {route.match!r}; use one of {', '.join(MATCH_KINDS)}")
        if route.match == "regex":
            _check_regex(route.value, f"--header {route.header}")
    if plan.mirror:
        _check_target(plan, plan.mirror.target, "--mirror")
        if not 0 < plan.mirror.percent <= 100:
            raise ConfigError(f"--mirror {plan.mirror.target}={plan.mirror.percent:g}: the percent must be above 0 and at most 100")
    if plan.mode not in MODES:
        raise ConfigError(f"--mode {plan.mode!r}: use one of {', '.join(MODES)} (the versions' deploy.mode)")
    if plan.mirror and plan.mode == "keda":
        raise ConfigError("--mirror: the KEDA interceptor routes by Host and mirrored requests arrive with '-shadow' "
                          "appended to it, so they would be lost; mirror between knative or raw versions")
    if plan.timeout is not None:
        check_duration(plan.timeout, "--timeout")
    if plan.retries:
        if not 0 <= plan.retries.attempts <= 100:
            raise ConfigError(f"--retries {plan.retries.attempts}: use 0 to 100 attempts")
        if plan.retries.per_try_timeout is not None:
            check_duration(plan.retries.per_try_timeout, "--per-try-timeout")


def _check_target(plan: TrafficPlan, target: str, option: str) -> None:
    if target not in plan.versions:
        raise ConfigError(f"{option}: unknown version {target!r}; known: {', '.join(plan.versions)}")


def _check_regex(value: str, option: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{option}: {value!r} is not a regular expression ({exc})") from None


def check_duration(text: str, option: str) -> float:
    """Seconds in an Istio duration (``30s``, ``500ms``); Istio refuses anything under 1ms."""
    seconds = parse_duration(text)
    if seconds is None:
        raise ConfigError(f"{option} {text!r}: not a duration; write it like 500ms, 30s or 2m")
    if seconds < 0.001:
        raise ConfigError(f"{option} {text!r}: Istio needs a duration of at least 1ms")
    return seconds


def parse_weights(items: list[str], option: str = "weights") -> dict[str, int]:
    """``["blue=90", "green=10"]`` -> ``{"blue": 90, "green": 10}``."""
    weights: dict[str, int] = {}
    for item in items:
        version, sep, percent = item.partition("=")
        if not sep or not version or not percent.strip().rstrip("%").isdigit():
            raise ConfigError(f"{option}: {item!r} is not VERSION=PERCENT; write e.g. blue=90 green=10")
        if version in weights:
            raise ConfigError(f"{option}: version {version!r} is given twice")
        weights[version] = int(percent.strip().rstrip("%"))
    return weights


def parse_header_route(text: str) -> HeaderRoute:
    """``x-canary=true -> green`` (exact), ``x-user^=test -> green`` (prefix), ``x-user~=^qa-.* -> green`` (regex)."""
    match = _ROUTE.match(text)
    if not match or not match.group("value"):
        raise ConfigError(f"--header {text!r}: write NAME=VALUE -> VERSION (or ^= for a prefix, ~= for a regex), "
                          "e.g. 'x-canary=true -> green'")
    return HeaderRoute(match.group("name").lower(), _OPS[match.group("op")], match.group("value"), match.group("target"))


def parse_cookie_route(text: str) -> HeaderRoute:
    """``canary=true -> green``: requests carrying that cookie go to ``green`` (a regex on the Cookie header)."""
    match = _ROUTE.match(text)
    if not match or match.group("op") != "=" or not match.group("value"):
        raise ConfigError(f"--cookie {text!r}: write NAME=VALUE -> VERSION, e.g. 'canary=true -> green'")
    pair = re.escape(f"{match.group('name')}={match.group('value')}")
    return HeaderRoute("cookie", "regex", f"^(.*?;\\s*)?{pair}(;.*)?$", match.group("target"))


def parse_mirror(text: str) -> Mirror:
    """``green=10`` mirrors 10% of requests to green; ``green`` alone mirrors all of them."""
    target, sep, percent = text.partition("=")
    try:
        value = float(percent.strip().rstrip("%")) if sep else 100.0
    except ValueError:
        raise ConfigError(f"--mirror {text!r}: write VERSION=PERCENT, e.g. green=10") from None
    return Mirror(target, value)


def spell_weights(weights: dict[str, int]) -> str:
    """``blue=90 green=10`` for logs and messages."""
    return " ".join(f"{version}={weight}" for version, weight in weights.items())
