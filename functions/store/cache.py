"""The content-addressed local model cache, shared safely by every process on a node.

Layout under the cache root::

    entries/<key>/manifest.json, entries/<key>/model/   one fetched model (key: sha256 of its identity)
    uris/<sha256(uri)>.json                             the last entry fetched for a URI (offline starts)
    locks/<key>.lock, locks/evict.lock                  fcntl locks
    tmp/                                                downloads in progress, renamed into entries/

A cache directory this process cannot write (a read-only PVC warmed by ``kfunc cache warm``) is
used read-only: sound entries are served without locks (entries never change once renamed in),
nothing is downloaded, touched or evicted.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from . import locks
from .errors import StoreError, StoreUnavailable
from .manifest import MANIFEST, MODEL_DIR, check_entry, fsync_dir, fsync_tree, tree_size, write_manifest
from .progress import Progress
from .settings import CacheSettings
from .source import RemoteFile, Source, identity_key

log = logging.getLogger("kfunc.store")
_REMEMBERED: dict[Path, str] = {}  # the uris/ records this process wrote, and the key each names


class ModelCache:
    """Fetches a source's model into the cache once and hands out its local directory."""

    def __init__(self, settings: CacheSettings, root: Path) -> None:
        self.settings = settings
        self.root = root
        try:
            for sub in ("entries", "uris", "locks", "tmp"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cache directory {root}: {exc.strerror}; set KFUNC_CACHE_DIR or cache.dir "
                             "to a writable directory") from exc
        self.read_only = not os.access(root / "locks", os.W_OK)

    def fetch(self, source: Source, files: list[RemoteFile] | None = None) -> Path:
        """The model directory for ``source``: reused when sound, else downloaded; offline falls back
        to the last entry. ``files``: its listing, when the caller has one (a model repository's),
        else the source is listed now."""
        listed_now = files is None
        if files is None:
            try:
                files = source.list()
            except StoreUnavailable as exc:
                return self._offline(source.uri, exc)
        key = identity_key(source.uri, files)
        try:
            with self._locked(key, f"{source.uri}: another process is fetching it; waiting"):
                if self._reuse(key):
                    log.info("%s: using cached copy %s", source.uri, self._entry(key))
                elif self.read_only:
                    raise StoreError(f"{source.uri}: the read-only cache {self.root} holds no sound copy of it; "
                                     "warm it with 'kfunc cache warm' or make the cache writable")
                else:
                    self._download(source, files, key)
        except StoreUnavailable as exc:
            if listed_now:
                raise  # listed a moment ago, then the download failed: no reason to trust an older copy
            return self._offline(source.uri, exc)  # the store is out where a listing would have failed
        if not self.read_only:
            self._remember(source.uri, key)
            self._evict(keep=key)
        return self._entry(key) / MODEL_DIR

    def _locked(self, key: str, waiting_message: str) -> contextlib.AbstractContextManager[None]:
        """The key's exclusive lock; nothing in a read-only cache, where no one writes."""
        if self.read_only:
            return contextlib.nullcontext()
        return locks.exclusive(self._lock_path(key), waiting_message)

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"

    def _entry(self, key: str) -> Path:
        return self.root / "entries" / key

    def _uri_record(self, uri: str) -> Path:
        return self.root / "uris" / f"{hashlib.sha256(uri.encode()).hexdigest()}.json"

    def _reuse(self, key: str) -> bool:
        """True if the entry exists and passes its check (then mark it used); a bad entry is evicted if we can."""
        entry = self._entry(key)
        if not os.path.lexists(entry):
            return False
        problem = check_entry(entry, self.settings.verify)
        if problem:
            action = "" if self.read_only else "; evicting it and fetching again"
            log.warning("cache entry %s is unusable (%s)%s", entry, problem, action)
            if not self.read_only:
                self._remove(key)
            return False
        if not self.read_only:
            os.utime(entry / MANIFEST)
        return True

    def _download(self, source: Source, files: list[RemoteFile], key: str) -> None:
        """Download into tmp/, record the manifest, flush, and rename into entries/ in one step."""
        for stale in (self.root / "tmp").glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = self.root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        (staging / MODEL_DIR).mkdir(parents=True)
        try:
            progress = Progress(source.uri, sum(f.size for f in files))
            with _collecting_garbage():
                source.download(files, staging / MODEL_DIR, progress)
            progress.finish()
            write_manifest(staging, source.uri, files)
            fsync_tree(staging)
            os.rename(staging, self._entry(key))
            fsync_dir(self.root / "entries")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _remember(self, uri: str, key: str) -> None:
        """Record ``key`` as the last good entry for ``uri`` (atomic replace); once per process and
        entry (a model swapped in again from the cache is not recorded again)."""
        record = self._uri_record(uri)
        if _REMEMBERED.get(record) == key and record.exists():
            return
        partial = record.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"uri": uri, "key": key}))
        os.replace(partial, record)
        _REMEMBERED[record] = key

    def _offline(self, uri: str, cause: StoreUnavailable) -> Path:
        """The last entry fetched for ``uri`` if it is still sound; else re-raise the outage."""
        try:
            key = json.loads(self._uri_record(uri).read_text())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreUnavailable(f"{cause}; no cached copy in {self.root} to start from") from cause
        with self._locked(key, f"{uri}: another process holds its cache entry; waiting"):
            if not self._reuse(key):
                raise StoreUnavailable(f"{cause}; the cached copy in {self.root} is gone or damaged") from cause
        log.warning("%s; starting from the cached copy %s", cause, self._entry(key))
        return self._entry(key) / MODEL_DIR

    def _remove(self, key: str) -> None:
        """Take an entry out of entries/ in one rename, then delete it. Caller holds the key's lock."""
        doomed = self.root / "tmp" / f"{key}.evicted.{uuid.uuid4().hex[:8]}"
        os.rename(self._entry(key), doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        if doomed.is_symlink():
            doomed.unlink()

    def _evict(self, keep: str) -> None:
        """Delete least recently used entries until under max-size; never ``keep`` or one being fetched."""
        limit = self.settings.max_size_bytes
        if limit is None:
            return
        with locks.exclusive(self.root / "locks" / "evict.lock", "waiting for another process's cache eviction"):
            entries = [(self._last_used(e), e.name, tree_size(e)) for e in (self.root / "entries").iterdir()]
            total = sum(size for _, _, size in entries)
            for _, key, size in sorted(entries):
                if total <= limit:
                    break
                if key == keep:
                    continue
                with locks.try_exclusive(self._lock_path(key)) as locked:
                    if locked:
                        log.info("cache over %d bytes: evicting least recently used %s", limit, key)
                        self._remove(key)
                        total -= size
            if total > limit:
                log.warning("cache %s holds %d bytes, over its max-size of %d (entries being fetched are kept)",
                            self.root, total, limit)

    @staticmethod
    def _last_used(entry: Path) -> float:
        try:
            return (entry / MANIFEST).stat().st_mtime
        except OSError:
            return 0.0


@contextlib.contextmanager
def _collecting_garbage() -> Iterator[None]:
    """The cyclic GC on for the block, even in a start that paused it (``kfunc run``): a download
    leaves cyclic garbage (HTTP responses, retries) at a steady rate, for as long as it lasts."""
    paused = not gc.isenabled()
    if paused:
        gc.enable()
    try:
        yield
    finally:
        if paused:
            gc.disable()
