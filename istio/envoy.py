"""Translate the VirtualServices kfunc sends to a cluster into Envoy route and cluster configuration.

Contract: ``translate(virtual_services, upstreams)`` takes the VirtualService objects as they
would be applied and a mapping from each Knative Service host (``fn-blue.ns.svc.cluster.local``)
to a local ``"127.0.0.1:PORT"``, and returns :class:`EnvoyResources`: one RouteConfiguration
(named :data:`ROUTE_CONFIG`) and one STATIC cluster per upstream. Envoy then plays both Istio's
proxy and the Knative local gateway: a destination on the local gateway goes straight to the
upstream of the Host it sets, and a mirror to the local gateway is resolved through the shadow
VirtualService, as the gateway would route it. Anything else this module does not translate is
refused with :class:`UntranslatableVirtualService`, naming the field.

Translated: weights, header and URI matches (exact/prefix/regex, presence), per-destination and
per-route header set/add/remove with Host as a host rewrite, mirror/mirrors with percentages,
timeout (none means no timeout, as in Istio), retries (none means Istio's default: 2 attempts),
and a DestinationRule's ``loadBalancer.consistentHash.httpHeaderName`` on an upstream (a ring-hash
cluster, the routes to it hashing on that header). An upstream may have several addresses (replicas).
The local virtual host answers for any Host header. Upstreams named in ``h2c`` get HTTP/2
(prior knowledge) clusters, as Knative's queue-proxy speaks h2c to a port named ``h2c``.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from functions.errors import KFuncError
from knative.values import parse_duration

from .hosts import LOCAL_GATEWAY, LOCAL_GATEWAY_HOST, SHADOW_SUFFIX

ROUTE_CONFIG = "kfunc"
ISTIO_DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,503"
_ROUTE_KEYS = {"name", "match", "route", "timeout", "retries", "mirror", "mirrorPercentage", "mirrors", "headers"}
_MATCH_KEYS = {"name", "uri", "headers", "withoutHeaders"}
_RETRY_KEYS = {"attempts", "perTryTimeout", "retryOn"}
_CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
_ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


class UntranslatableVirtualService(KFuncError):
    """The VirtualService uses a feature the local mesh does not translate."""


@dataclass(frozen=True)
class EnvoyResources:
    route_config: dict
    clusters: list[dict]


@dataclass(frozen=True)
class _Target:
    cluster: str
    host: str | None


def translate(virtual_services: Sequence[dict], upstreams: Mapping[str, str | Sequence[str]],
              h2c: Collection[str] = ()) -> EnvoyResources:
    """``h2c`` names the upstream hosts that speak HTTP/2 cleartext (``deploy.protocol: h2c``): their
    clusters use HTTP/2 upstreams, so gRPC (trailers and all) passes through. An upstream given
    several addresses is one cluster of that many endpoints. DestinationRules among the objects
    that hash on a header (``consistentHash.httpHeaderName``) make their host's cluster a hash ring."""
    entry, gateway_side = _split_entry(virtual_services)
    hashed = _hash_headers(virtual_services, upstreams)
    translator = _Translator(upstreams, gateway_side, entry["metadata"]["name"])
    routes = [envoy_route for index, route in enumerate(entry["spec"].get("http") or [])
              for envoy_route in translator.http_route(route, f"spec.http[{index}]")]
    for route in routes:
        headers = {hashed[c["name"]] for c in route["route"]["weighted_clusters"]["clusters"] if c["name"] in hashed}
        if headers:
            route["route"]["hash_policy"] = [{"header": {"header_name": name}} for name in sorted(headers)]
    route_config = {"@type": _ROUTE_TYPE, "name": ROUTE_CONFIG,
                    "virtual_hosts": [{"name": entry["metadata"]["name"], "domains": ["*"], "routes": routes}]}
    return EnvoyResources(route_config, [_cluster(host, [address] if isinstance(address, str) else list(address),
                                                  host in h2c, host in hashed)
                                         for host, address in sorted(upstreams.items())])


def _hash_headers(objects: Sequence[dict], upstreams: Mapping[str, object]) -> dict[str, str]:
    """Upstream host -> the header its DestinationRule hashes requests on (other rules are not translated)."""
    hashed = {}
    for rule in objects:
        if rule.get("kind") != "DestinationRule" or (rule.get("spec") or {}).get("host") not in upstreams:
            continue
        consistent = ((rule["spec"].get("trafficPolicy") or {}).get("loadBalancer") or {}).get("consistentHash")
        if consistent is None:
            continue
        if set(consistent) != {"httpHeaderName"}:
            raise UntranslatableVirtualService(f"DestinationRule/{rule['metadata']['name']}: spec.trafficPolicy."
                                               "loadBalancer.consistentHash: only httpHeaderName is translated")
        hashed[rule["spec"]["host"]] = str(consistent["httpHeaderName"]).lower()
    return hashed


def _split_entry(virtual_services: Sequence[dict]) -> tuple[dict, list[dict]]:
    """The VirtualService clients hit, and those bound only to the local gateway (reached through it)."""
    entries, gateway_side = [], []
    for vs in virtual_services:
        if vs.get("kind") != "VirtualService":
            continue
        spec = vs.get("spec") or {}
        for key in spec:
            if key not in ("hosts", "gateways", "http"):
                raise UntranslatableVirtualService(f"VirtualService/{vs['metadata']['name']}: spec.{key} is not translated "
                                                   "to the local mesh; it routes HTTP only")
        (gateway_side if spec.get("gateways") == [LOCAL_GATEWAY] else entries).append(vs)
    if len(entries) != 1:
        raise UntranslatableVirtualService(f"the local mesh serves one VirtualService bound to the mesh or an ingress "
                                           f"gateway; got {len(entries)}")
    return entries[0], gateway_side


class _Translator:
    def __init__(self, upstreams: Mapping[str, str], gateway_side: list[dict], name: str) -> None:
        self.upstreams = upstreams
        self.gateway_side = gateway_side
        self.label = f"VirtualService/{name}"

    def refuse(self, path: str, message: str) -> UntranslatableVirtualService:
        return UntranslatableVirtualService(f"{self.label}: {path}: {message}")

    def http_route(self, route: dict, path: str) -> list[dict]:
        for key in route:
            if key not in _ROUTE_KEYS:
                raise self.refuse(f"{path}.{key}", "not translated to the local mesh; remove it to try the rest locally")
        destinations = route.get("route") or []
        if not destinations:
            raise self.refuse(f"{path}.route", "needs at least one destination")
        clusters = [self.weighted_cluster(d, len(destinations), f"{path}.route[{i}]") for i, d in enumerate(destinations)]
        if sum(c["weight"] for c in clusters) == 0:
            raise self.refuse(f"{path}.route", "every weight is 0; give one destination a weight")
        action: dict = {"weighted_clusters": {"clusters": clusters}, "timeout": self.duration(route.get("timeout", "0s"), f"{path}.timeout"),
                        "retry_policy": self.retry_policy(route.get("retries"), f"{path}.retries")}
        mirrors = self.mirror_policies(route, [c.get("host_rewrite_literal") for c in clusters], path)
        if mirrors:
            action["request_mirror_policies"] = mirrors
        envoy_route = {"route": action, **self.header_mutations(route.get("headers"), f"{path}.headers", action)}
        matches = route.get("match") or [{}]
        return [{"match": self.match(m, f"{path}.match[{i}]"), **envoy_route} for i, m in enumerate(matches)]

    def match(self, match: dict, path: str) -> dict:
        for key in match:
            if key not in _MATCH_KEYS:
                raise self.refuse(f"{path}.{key}", "this match is not translated; match on uri or headers")
        uri = match.get("uri")
        if uri is None:
            envoy: dict = {"prefix": "/"}
        else:
            kind, value = self.string_match(uri, f"{path}.uri")
            envoy = {"path": value} if kind == "exact" else {"prefix": value} if kind == "prefix" else {"safe_regex": {"regex": value}}
        headers = [self.header_matcher(name, m, f"{path}.headers.{name}", invert=False) for name, m in (match.get("headers") or {}).items()]
        headers += [self.header_matcher(name, m, f"{path}.withoutHeaders.{name}", invert=True)
                    for name, m in (match.get("withoutHeaders") or {}).items()]
        if headers:
            envoy["headers"] = headers
        return envoy

    def string_match(self, match: dict, path: str) -> tuple[str, str]:
        kinds = [k for k in ("exact", "prefix", "regex") if k in match]
        if len(kinds) != 1 or set(match) != set(kinds):
            raise self.refuse(path, f"give exactly one of exact, prefix or regex (got {', '.join(match) or 'none'})")
        return kinds[0], str(match[kinds[0]])

    def header_matcher(self, name: str, match: dict, path: str, invert: bool) -> dict:
        matcher: dict = {"name": name.lower()}
        if match:
            kind, value = self.string_match(match, path)
            matcher["string_match"] = {"safe_regex": {"regex": value}} if kind == "regex" else {kind: value}
        else:
            matcher["present_match"] = True
        if invert:
            matcher["invert_match"] = True
        return matcher

    def weighted_cluster(self, destination: dict, count: int, path: str) -> dict:
        target = self.target(destination, path)
        weight = destination.get("weight", 100 if count == 1 else 0)
        cluster = {"name": target.cluster, "weight": weight}
        if target.host:
            cluster["host_rewrite_literal"] = target.host
        return {**cluster, **self.header_mutations(destination.get("headers"), f"{path}.headers", cluster)}

    def target(self, destination: dict, path: str) -> _Target:
        dest = destination.get("destination") or {}
        if "subset" in dest:
            raise self.refuse(f"{path}.destination.subset", "subsets are not translated; route to Knative Services")
        host = _host_header(destination.get("headers"))
        if dest.get("host") == LOCAL_GATEWAY_HOST:
            if not host:
                raise self.refuse(f"{path}.headers.request.set.Host",
                                  "a destination on the Knative local gateway must set the Host of its Knative Service")
            return _Target(self.upstream(host, path), host)
        return _Target(self.upstream(str(dest.get("host")), path), host)

    def upstream(self, host: str, path: str) -> str:
        if host not in self.upstreams:
            known = ", ".join(sorted(self.upstreams)) or "none"
            raise self.refuse(path, f"no local server for {host}; local servers: {known}")
        return host

    def header_mutations(self, headers: dict | None, path: str, holder: dict) -> dict:
        """Envoy header fields for Istio ``headers``; a Host set becomes ``holder``'s host rewrite."""
        fields: dict = {}
        for direction in ("request", "response"):
            operations = (headers or {}).get(direction) or {}
            to_add = [{"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                      for key, value in (operations.get("set") or {}).items() if key.lower() != "host" or direction == "response"]
            to_add += [{"header": {"key": key, "value": value}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
                       for key, value in (operations.get("add") or {}).items()]
            if to_add:
                fields[f"{direction}_headers_to_add"] = to_add
            if operations.get("remove"):
                fields[f"{direction}_headers_to_remove"] = list(operations["remove"])
        host = _host_header(headers)
        if host and "host_rewrite_literal" not in holder:
            holder["host_rewrite_literal"] = host
        return fields

    def retry_policy(self, retries: dict | None, path: str) -> dict:
        retries = retries if retries is not None else {"attempts": 2}
        for key in retries:
            if key not in _RETRY_KEYS:
                raise self.refuse(f"{path}.{key}", "not translated; use attempts, perTryTimeout and retryOn")
        conditions = [c.strip() for c in str(retries.get("retryOn") or ISTIO_DEFAULT_RETRY_ON).split(",") if c.strip()]
        codes = [int(c) for c in conditions if c.isdigit()]
        named = [c for c in conditions if not c.isdigit()] + (["retriable-status-codes"] if codes else [])
        policy: dict = {"num_retries": int(retries.get("attempts", 0)), "retry_on": ",".join(dict.fromkeys(named))}
        if codes:
            policy["retriable_status_codes"] = codes
        if retries.get("perTryTimeout"):
            policy["per_try_timeout"] = self.duration(retries["perTryTimeout"], f"{path}.perTryTimeout")
        return policy

    def mirror_policies(self, route: dict, primary_hosts: list[str | None], path: str) -> list[dict]:
        mirrors = [(m.get("destination") or {}, (m.get("percentage") or {}).get("value", 100.0), f"{path}.mirrors[{i}]")
                   for i, m in enumerate(route.get("mirrors") or [])]
        if route.get("mirror"):
            mirrors.append((route["mirror"], (route.get("mirrorPercentage") or {}).get("value", 100.0), f"{path}.mirror"))
        return [self.mirror_policy(dest, float(percent), primary_hosts, where) for dest, percent, where in mirrors]

    def mirror_policy(self, destination: dict, percent: float, primary_hosts: list[str | None], path: str) -> dict:
        fraction = {"numerator": round(percent * 10_000), "denominator": "MILLION"}
        if destination.get("host") != LOCAL_GATEWAY_HOST:
            return {"cluster": self.upstream(str(destination.get("host")), path), "runtime_fraction": {"default_value": fraction}}
        targets = {self.shadow_target(host, path) for host in primary_hosts}
        if len(targets) != 1:
            raise self.refuse(path, "mirrored requests would reach different versions depending on the primary destination")
        target = targets.pop()
        return {"cluster": target.cluster, "runtime_fraction": {"default_value": fraction},
                "host_rewrite_literal": target.host, "disable_shadow_host_suffix_append": True}

    def shadow_target(self, primary_host: str | None, path: str) -> _Target:
        """Where the local gateway sends ``<primary Host>-shadow``, following the shadow VirtualService."""
        shadow_host = f"{primary_host}{SHADOW_SUFFIX}"
        for vs in self.gateway_side:
            if shadow_host in (vs["spec"].get("hosts") or []):
                routes = vs["spec"].get("http") or []
                destinations = routes[0].get("route") or [] if len(routes) == 1 else []
                if len(destinations) != 1 or routes[0].get("match"):
                    raise self.refuse(path, f"VirtualService/{vs['metadata']['name']} must route {shadow_host} to one destination")
                return self.target(destinations[0], f"VirtualService/{vs['metadata']['name']}: spec.http[0].route[0]")
        raise self.refuse(path, f"a mirror to the local gateway arrives there as Host {shadow_host}, which no VirtualService "
                                "on knative-serving/knative-local-gateway routes; add the shadow VirtualService")

    def duration(self, text: str, path: str) -> str:
        seconds = parse_duration(str(text))
        if seconds is None or seconds < 0:
            raise self.refuse(path, f"{text!r} is not a duration like 500ms or 30s")
        return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def _host_header(headers: dict | None) -> str | None:
    for key, value in (((headers or {}).get("request") or {}).get("set") or {}).items():
        if key.lower() == "host":
            return str(value)
    return None


def _cluster(host: str, addresses: list[str], http2: bool, ring_hash: bool = False) -> dict:
    endpoints = [{"endpoint": {"address": {"socket_address": {"address": ip, "port_value": int(port)}}}}
                 for ip, _, port in (address.rpartition(":") for address in addresses)]
    cluster = {
        "@type": _CLUSTER_TYPE, "name": host, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": host, "endpoints": [{"lb_endpoints": endpoints}]},
    }
    if ring_hash:
        cluster["lb_policy"] = "RING_HASH"
    if http2:
        cluster["typed_extension_protocol_options"] = {_HTTP_OPTIONS: {
            "@type": f"type.googleapis.com/{_HTTP_OPTIONS}", "explicit_http_config": {"http2_protocol_options": {}}}}
    return cluster
