"""Read a live split back: which version gets what share, by route, from a VirtualService or a Service's traffic."""
from __future__ import annotations


def destination_name(destination: dict) -> str:
    """The Service a destination reaches: its Host rewrite on a gateway (Knative's local gateway, the KEDA
    interceptor), else its host."""
    host = (destination.get("destination") or {}).get("host", "?")
    for key, value in (((destination.get("headers") or {}).get("request") or {}).get("set") or {}).items():
        if key.lower() == "host":
            host = value
    return host.split(".")[0]


def split_of(virtual_service: dict, route_name: str | None = None) -> dict[str, int]:
    """Weights by Knative Service of the route named ``route_name`` (default: the last, unmatched one)."""
    routes = (virtual_service.get("spec") or {}).get("http") or []
    chosen = next((r for r in routes if r.get("name") == route_name), None) if route_name else (routes[-1] if routes else None)
    return route_weights(chosen) if chosen else {}


def route_weights(route: dict) -> dict[str, int]:
    destinations = route.get("route") or []
    return {destination_name(d): d.get("weight", 100 if len(destinations) == 1 else 0) for d in destinations}


def describe_virtual_service(virtual_service: dict) -> str:
    spec = virtual_service.get("spec") or {}
    lines = [f"VirtualService {virtual_service['metadata']['name']}: hosts {', '.join(spec.get('hosts') or [])}"]
    for route in spec.get("http") or []:
        shares = ", ".join(f"{name} {weight}%" for name, weight in route_weights(route).items())
        condition = " or ".join(_spell_match(m) for m in route.get("match") or []) or "all other requests"
        line = f"  {route.get('name', '(unnamed)')}: {condition} -> {shares}"
        if route.get("mirror"):
            line += f"; mirror {(route.get('mirrorPercentage') or {}).get('value', 100):g}%"
        lines.append(line)
    return "\n".join(lines)


def describe_service(service: dict) -> str:
    """The traffic Knative reports for a Service (status), with tags."""
    lines = [f"Knative Service {service['metadata']['name']} (no VirtualService): revision traffic"]
    for target in (service.get("status") or {}).get("traffic") or []:
        tag = f" (tag {target['tag']})" if target.get("tag") else ""
        lines.append(f"  {target.get('revisionName', '?')}: {target.get('percent', 0)}%{tag}")
    return "\n".join(lines)


def _spell_match(match: dict) -> str:
    parts = [f"{name} {kind} {value!r}" for name, condition in (match.get("headers") or {}).items()
             for kind, value in condition.items()]
    if match.get("uri"):
        parts += [f"uri {kind} {value!r}" for kind, value in match["uri"].items()]
    return " and ".join(parts) or "any request"
