"""The models a function serves: discovery (``sources``, listed again by ``catalogue``), state
(``entry``), loading and eviction under a pod-wide memory budget (``registry``, ``ledger``,
``memory``), per-model metrics."""
from __future__ import annotations

from pathlib import Path

from ..config import FunctionConfig
from ..store import StoreSettings
from .entry import LOADING, READY, UNAVAILABLE, UNLOADING, ModelEntry
from .ledger import Ledger
from .memory import memory_budget
from .registry import Fetch, LoadHook, ModelRegistry, not_ready_message
from .sources import ModelSource, model_sources, repository_lister

__all__ = ["LOADING", "READY", "UNAVAILABLE", "UNLOADING", "ModelEntry", "ModelRegistry", "ModelSource",
           "build_registry", "not_ready_message"]


def build_registry(config: FunctionConfig, directory: Path, store: StoreSettings, *, fetch: Fetch,
                   load_hook: LoadHook) -> ModelRegistry:
    """The registry of ``config``'s models. A single-model function's one model is pinned and needs
    no ledger; a repository's models share the pod's ``runtime.memory-budget`` through one."""
    sources = model_sources(config, directory, store)
    if config.model_repository is None and config.models is None:
        return ModelRegistry(sources, fetch=fetch, load_hook=load_hook, pinned={config.name}, budget=None,
                             ledger=None)
    return ModelRegistry(sources, fetch=fetch, load_hook=load_hook, pinned=set(config.model.pinned),
                         budget=memory_budget(config.memory_budget), ledger=Ledger(),
                         lister=repository_lister(config, directory, store),
                         refresh_interval=config.model.refresh_interval)
