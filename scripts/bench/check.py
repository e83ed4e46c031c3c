"""Before any load: every server must answer each probe with the model's in-process output."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

from scripts.bench.workloads import Probe

TOLERANCE = 1e-5


class MismatchError(RuntimeError):
    """A server answered with an error or with outputs other than the model's."""


def fetch_output(base_url: str, probe: Probe) -> np.ndarray:
    """POST the probe once and read the model output from the answer."""
    request = urllib.request.Request(base_url + probe.path, data=probe.body,
                                     headers={"Content-Type": probe.content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return probe.read_output(json.load(answer))
    except urllib.error.HTTPError as exc:
        raise MismatchError(f"POST {base_url}{probe.path} answered {exc.code}: "
                            f"{exc.read()[:500].decode(errors='replace')}") from None


def check_server(target: str, base_url: str, probes: dict[str, Probe], reference: np.ndarray) -> None:
    """Raise ``MismatchError`` unless every probe's output equals ``reference`` within ``TOLERANCE``."""
    for protocol, probe in probes.items():
        output = fetch_output(base_url, probe)
        label = f"{target} over {protocol} ({probe.path})"
        if output.shape != reference.shape:
            raise MismatchError(f"{label}: output shape {list(output.shape)}, "
                                f"the model in-process gives {list(reference.shape)}")
        worst = float(np.max(np.abs(output - reference)))
        if worst > TOLERANCE:
            raise MismatchError(f"{label}: output differs from the model in-process by {worst:.3g} "
                                f"(tolerance {TOLERANCE}); the servers do not serve the same model")
