"""``kfunc cache warm URI``: pre-fetch a model into a cache directory (e.g. a node cache, before traffic)."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from functions.config import load_config
from functions.store import fetch_model
from functions.store.settings import CacheSettings, StoreSettings, settings_from_config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("cache", help="manage the local model cache")
    actions = parser.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    warm_parser = actions.add_parser("warm", help="fetch a model into the cache so that starts skip the download")
    warm_parser.add_argument("uri", help="model URI: s3://bucket/prefix/, https://host/file (local paths need no warming)")
    warm_parser.add_argument("--cache-dir", default=None,
                             help="cache directory (default: KFUNC_CACHE_DIR, else cache.dir, else ~/.cache/kfunc/models)")
    warm_parser.add_argument("--function-dir", default=None,
                             help="function directory whose kfunc.yaml store: and cache: sections apply")
    warm_parser.add_argument("--verify", action="store_true",
                             help="if already cached, check every file's SHA-256, not only its size")
    warm_parser.set_defaults(func=warm)


def warm(args: argparse.Namespace) -> int:
    """Fetch ``args.uri`` into the cache and print the model directory."""
    store, cache = _settings(args.function_dir)
    if args.verify:
        cache = dataclasses.replace(cache, verify="sha256")
    cache_root = Path(args.cache_dir) if args.cache_dir else None
    print(fetch_model(args.uri, store, cache, cache_root=cache_root))
    return 0


def _settings(function_dir: str | None) -> tuple[StoreSettings, CacheSettings]:
    if function_dir is None:
        return StoreSettings(), CacheSettings()
    config = load_config(function_dir)
    return settings_from_config(config.store, config.cache)
