"""Memory measurements for the model budget: this process's RSS, the container's limit, the budget."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from ..config import MEMORY_MARGIN
from ..errors import ConfigError
from ..schema import parse_size

CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident set size now (``/proc/self/statm``; 0 where there is no ``/proc``)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return 0


def pss_bytes(pid: int) -> int:
    """A process's proportional set size (pages it shares with others counted by their share), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def container_limit() -> int | None:
    """The cgroup memory limit of this container, None when unlimited or unknown."""
    for path in CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def memory_budget(configured: str | None) -> int | None:
    """Bytes the loaded models may hold, pod-wide: ``runtime.memory-budget`` (or ``KFUNC_MEMORY_BUDGET``),
    else the container limit minus a 25% margin, else None (no limit)."""
    if configured:
        try:
            return parse_size(configured)
        except ValueError as exc:
            raise ConfigError(f"runtime.memory-budget (or KFUNC_MEMORY_BUDGET): {exc}") from None
    limit = container_limit()
    return int(limit * (1 - MEMORY_MARGIN)) if limit else None


def directory_bytes(path: Path | None) -> int:
    """The bytes of the regular files below ``path`` (a model's weights on disk)."""
    if path is None:
        return 0
    return sum(os.stat(os.path.join(top, name)).st_size  # os.walk: a third of rglob's cost, on every load
               for top, _, files in os.walk(path, followlinks=True) for name in files)


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the kernel (glibc's ``malloc_trim``) after an unload, so
    a model's memory leaves the process's RSS and not only the ledger; nothing elsewhere."""
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim: Any = None


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a ledger's or a metrics file's owner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
