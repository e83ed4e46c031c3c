"""A function directory's ``kfunc.yaml``: name, version, model, runtime settings.

Later sections (model store, cache, deploy) are declared by the packages that own them;
this module only knows where they live in the file.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError
from .schema import check_size, parse
from .tensors import Tensor

CONFIG_FILE = "kfunc.yaml"
MEMORY_MARGIN = 0.25  # of the container's memory limit, left to the runtime when the budget defaults
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(value: str) -> str | None:
    if _DNS_LABEL.match(value):
        return None
    return "must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63), e.g. 'my-model'"


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _model_name(value: str) -> str | None:
    return None if _MODEL_NAME.match(value) else (
        "must be letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit), e.g. 'fraud-7'")


@dataclass(frozen=True)
class ModelEntrySpec:
    """One model of ``models:``: its name (the one requests use), optional version, where it is."""

    name: str = field(metadata={"check": _model_name})
    uri: str = ""
    version: str | None = None


@dataclass(frozen=True)
class ModelSection:
    """Where the model (or the repository of models) comes from and what tensors it takes and gives.

    ``repository`` names a directory (s3://, file://, a path) each sub-directory of which is one model
    (``<name>/`` or ``<name>/<version>/``), listed again at most every ``refresh-interval`` seconds
    when a request names an unknown model or the index is asked for; ``pinned`` models are loaded
    before fork and never evicted."""

    uri: str | None = None
    repository: str | None = None
    refresh_interval: float = field(default=10.0, metadata={
        "yaml": "refresh-interval", "check": lambda v: None if v >= 0 else "must be 0 or more (seconds)"})
    pinned: list[str] = field(default_factory=list)
    platform: str = ""
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)


@dataclass(frozen=True)
class BatchSettings:
    """How large a batch may grow and how long a request may wait for batch-mates."""

    max_batch_size: int = 32
    max_latency_ms: float = 5.0

    def __post_init__(self) -> None:
        if type(self.max_batch_size) is not int or self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be a whole number >= 1, got {self.max_batch_size!r}")
        if isinstance(self.max_latency_ms, bool) or not isinstance(self.max_latency_ms, (int, float)) \
                or self.max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be a number >= 0, got {self.max_latency_ms!r}")


@dataclass(frozen=True)
class BatchSection:
    """``runtime.batch``: batch the predictor (it must take stacked rows), or tune the limits
    its ``@predictor(batch=True)`` declares."""

    max_batch_size: int | None = field(default=None, metadata={"yaml": "max-batch-size", "check": _positive})
    max_latency_ms: float | None = field(default=None, metadata={
        "yaml": "max-latency-ms", "check": lambda v: None if v >= 0 else "must be 0 or more"})


@dataclass(frozen=True)
class RuntimeSection:
    """How the server runs: processes and threads (unset: chosen from the cores, the device and
    batching, see ``functions.concurrency``), limits, batching, CloudEvent response type."""

    workers: int | None = field(default=None, metadata={"check": _positive})
    threads: int | None = field(default=None, metadata={"check": _positive})
    max_body_mb: float = field(default=64.0, metadata={"yaml": "max-body-mb", "check": lambda v: None if v > 0 else "must be greater than 0"})
    timeout: int = field(default=300, metadata={"check": _positive})
    event_type: str | None = field(default=None, metadata={"yaml": "event-type"})
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch: BatchSection | None = None
    memory_budget: str | None = field(default=None, metadata={"yaml": "memory-budget", "check": check_size})

    def batching(self, declared: BatchSettings | None) -> BatchSettings | None:
        """The predictor's batch settings: ``runtime.batch`` over what ``@predictor`` declared;
        None (no batching) if neither asks for it or ``max-batch-size`` is 1."""
        if self.batch is None:
            chosen = declared
        else:
            base = declared or BatchSettings()
            chosen = BatchSettings(self.batch.max_batch_size or base.max_batch_size,
                                   base.max_latency_ms if self.batch.max_latency_ms is None else self.batch.max_latency_ms)
        return chosen if chosen is not None and chosen.max_batch_size > 1 else None


@dataclass(frozen=True)
class FunctionConfig:
    """The whole ``kfunc.yaml``."""

    name: str = field(metadata={"check": check_name})
    version: str | None = None
    model: ModelSection = field(default_factory=ModelSection)
    models: list[ModelEntrySpec] | None = None
    runtime: RuntimeSection = field(default_factory=RuntimeSection)
    store: Any = None
    cache: Any = None
    deploy: Any = None
    logger: Any = None  # functions.payload_log.config.LoggerSettings

    @property
    def model_uri(self) -> str | None:
        """The model's storage URI; ``KFUNC_MODEL_URI`` overrides the file."""
        return os.environ.get("KFUNC_MODEL_URI") or self.model.uri

    @property
    def model_repository(self) -> str | None:
        """The model repository's URI; ``KFUNC_MODEL_REPOSITORY`` overrides the file."""
        return os.environ.get("KFUNC_MODEL_REPOSITORY") or self.model.repository

    @property
    def memory_budget(self) -> str | None:
        """``runtime.memory-budget``; ``KFUNC_MEMORY_BUDGET`` overrides the file."""
        return os.environ.get("KFUNC_MEMORY_BUDGET") or self.runtime.memory_budget

    @property
    def response_event_type(self) -> str:
        return self.runtime.event_type or f"{self.name}.response"


def memory_limit_for(budget: str) -> str:
    """The container memory limit whose default budget is ``budget`` (``runtime.memory-budget``):
    the budget plus the runtime's margin, in Mi (what ``kfunc deploy`` sizes a multi-model pod with)."""
    from math import ceil

    from .schema import parse_size

    return f"{ceil(parse_size(budget) / (1 - MEMORY_MARGIN) / 2**20)}Mi"


def load_config(function_dir: str | os.PathLike) -> FunctionConfig:
    """Read and validate ``<function_dir>/kfunc.yaml``; a missing file is a clear error."""
    path = Path(function_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; a function directory needs func.py and {CONFIG_FILE} (try 'kfunc new NAME')")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse(FunctionConfig, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def env_int(name: str) -> int | None:
    """A whole-number environment variable (``PORT``, ``KFUNC_WORKERS``), None when unset or empty;
    ConfigError names the variable otherwise."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r}: not a positive whole number; set it to e.g. 8080 (PORT) or 2, or unset it")
    return int(value)
