"""The pod-wide ledger of loaded models: which process holds which model, how many bytes, when last used.

Every serving process of the pod (the gunicorn master, which loads pinned models before fork, and
each forked worker, which loads the others on demand) records its models in one small JSON file,
read and rewritten under an exclusive ``flock`` (``functions.store.locks``). A process that needs
room for a model evicts its own least recently used ones at once and flags other processes' ones
(``evict``); each process's watcher (``ModelRegistry``) honours those flags within ~50 ms, unless
the model is serving a request. Entries of processes that have exited are dropped on every read.

The file lives in ``KFUNC_MODELS_DIR``, which the first process to use the ledger creates (a fresh
directory in ``/dev/shm`` where it can, else in the temporary directory) and its forked workers inherit.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import orjson

from ..store import locks
from .memory import process_alive

DIR_ENV = "KFUNC_MODELS_DIR"
FILE = "models.ledger.json"


def ledger_dir() -> Path:
    """``KFUNC_MODELS_DIR``, created (and set, for the processes forked later) on first use."""
    configured = os.environ.get(DIR_ENV)
    if not configured:
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # memory: a rewrite costs microseconds
        configured = os.environ[DIR_ENV] = tempfile.mkdtemp(prefix="kfunc-models-", dir=shm)
    return Path(configured)


class Ledger:
    """The table ``{"<owner> <model key>": {"pid", "owner", "key", "bytes", "last_used", "pinned", "loading",
    "evict", "unload"}}`` (``owner``: a registry in a process)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or ledger_dir()
        self.path = self.directory / FILE
        self.lock_path = self.directory / (FILE + ".lock")

    @contextlib.contextmanager
    def open(self) -> Iterator[dict[str, dict]]:
        """The table, under the lock, written back (atomically) when the block changed it. A load
        opens it twice, so it is kept cheap: orjson, raw reads, liveness checked for other processes only."""
        with locks.exclusive(self.lock_path, "waiting for the model ledger"):
            try:
                with open(self.path, "rb") as handle:
                    text = handle.read()
                table = orjson.loads(text)
            except (OSError, ValueError):
                text, table = b"", {}
            me = os.getpid()
            table = {k: v for k, v in table.items() if v["pid"] == me or process_alive(v["pid"])}
            yield table
            changed = orjson.dumps(table)
            if changed != text:
                scratch = f"{self.path}.{me}.tmp"
                with open(scratch, "wb") as handle:
                    handle.write(changed)
                os.replace(scratch, self.path)

    def read(self) -> dict[str, dict]:
        with self.open() as table:
            return dict(table)


def row_id(owner: str, key: str) -> str:
    return f"{owner} {key}"


def total_bytes(table: dict[str, dict]) -> int:
    return sum(row["bytes"] for row in table.values())
