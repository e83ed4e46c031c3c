"""Fetch a remote model in a forked child process while the parent imports ``func.py``.

Importing torch takes most of a second and the store's client (botocore) a quarter of one;
checking or downloading the model alongside hides one behind the other on any pod with two
cores. The child goes through the same cache (locks, atomic renames) as every other fetch and
hands back the model directory, or the error, over a pipe.

Forking is only safe while the process has a single thread, so there is no prefetch otherwise
(nor off Linux): the fetch then simply runs when the model is loaded.
"""
from __future__ import annotations

import multiprocessing
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from ..errors import ConfigError
from .errors import StoreError
from .fetch import fetch_model
from .settings import CacheSettings, StoreSettings
from .uri import LocalUri, parse_uri


class Prefetch:
    """A fetch running in a child process; :meth:`result` waits for it."""

    def __init__(self, uri: str, store: StoreSettings, cache: CacheSettings) -> None:
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_fetch_into, args=(sender, uri, store, cache),
                                        name="kfunc-prefetch", daemon=True)
        self._process.start()
        sender.close()
        self.uri = uri

    @classmethod
    def start(cls, uri: str | None, store: StoreSettings, cache: CacheSettings) -> "Prefetch | None":
        """A running prefetch for a remote ``uri``; None for no URI, a local path, or when forking is unsafe.

        A malformed URI is left to the load, which reports it as it would without a prefetch.
        """
        try:
            if not uri or isinstance(parse_uri(uri), LocalUri):
                return None
        except ConfigError:
            return None
        if not sys.platform.startswith("linux") or threading.active_count() > 1:
            return None
        return cls(uri, store, cache)

    def result(self) -> Path:
        """The model directory, or the fetch's error raised here."""
        try:
            outcome = self._receiver.recv()
        except EOFError:
            outcome = StoreError(f"{self.uri}: the fetch process died (exit code {self._process.exitcode}); "
                                 "see the log above")
        finally:
            self._receiver.close()
            self._process.join()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _fetch_into(sender: Connection, uri: str, store: StoreSettings, cache: CacheSettings) -> None:
    try:
        outcome: object = fetch_model(uri, store, cache)
    except Exception as exc:
        outcome = exc
    try:
        sender.send(outcome)
    except Exception:  # an exception that does not pickle: keep its type's name and message
        sender.send(StoreError(f"{uri}: {type(outcome).__name__}: {outcome}"))
    sender.close()
