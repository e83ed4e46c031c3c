"""``kfunc cache warm [URI]``: pre-fetch a model into a cache directory (e.g. a node cache, before
traffic); without URI, the models of ``--function-dir``: its ``model.uri``, or every model of its
repository (``model.repository`` or ``models:``), only the pinned ones with ``--pinned``, or those
named with ``--model``."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from functions.config import FunctionConfig, load_config
from functions.errors import ConfigError
from functions.registry import ModelSource, model_sources
from functions.store import fetch_model
from functions.store.settings import CacheSettings, StoreSettings, settings_from_config
from functions.store.uri import LocalUri, parse_uri


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("cache", help="manage the local model cache")
    actions = parser.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    warm_parser = actions.add_parser("warm", help="fetch a model (or a function's models) into the cache so that "
                                                  "starts skip the download")
    warm_parser.add_argument("uri", nargs="?", default=None,
                             help="model URI: s3://bucket/prefix/, https://host/file (local paths need no warming); "
                                  "default: the models of --function-dir")
    warm_parser.add_argument("--cache-dir", default=None,
                             help="cache directory (default: KFUNC_CACHE_DIR, else cache.dir, else ~/.cache/kfunc/models)")
    warm_parser.add_argument("--function-dir", default=None,
                             help="function directory whose kfunc.yaml store: and cache: sections apply "
                                  "(and whose models are warmed when no URI is given)")
    which = warm_parser.add_mutually_exclusive_group()
    which.add_argument("--pinned", action="store_true",
                       help="without URI: only the function's pinned models (model.pinned)")
    which.add_argument("--model", action="append", default=None, metavar="NAME",
                       help="without URI: only this model of the function (every version; repeat for more)")
    warm_parser.add_argument("--verify", action="store_true",
                             help="if already cached, check every file's SHA-256, not only its size")
    warm_parser.set_defaults(func=warm)


def warm(args: argparse.Namespace) -> int:
    """Fetch ``args.uri`` into the cache and print the model directory; without a URI, fetch the
    function's models and print ``<model> <directory>`` for each."""
    if args.uri is None and args.function_dir is None:
        raise ConfigError("kfunc cache warm: name a model URI, or --function-dir DIR to warm that function's models")
    if args.uri is not None and (args.pinned or args.model):
        raise ConfigError("kfunc cache warm: --pinned and --model choose among a function's models; "
                          "drop them, or the URI")
    config = load_config(args.function_dir) if args.function_dir else None
    store, cache = settings_from_config(config.store, config.cache) if config else (StoreSettings(), CacheSettings())
    if args.verify:
        cache = dataclasses.replace(cache, verify="sha256")
    cache_root = Path(args.cache_dir) if args.cache_dir else None
    if args.uri is not None:
        print(fetch_model(args.uri, store, cache, cache_root=cache_root))
        return 0
    assert config is not None
    for source in _chosen(config, Path(args.function_dir), store, args.pinned, args.model):
        if source.uri is None or isinstance(parse_uri(source.uri), LocalUri):
            print(f"{source.key} {source.uri or '-'} (local: used in place, nothing to warm)")
            continue
        print(f"{source.key} {fetch_model(source.uri, store, cache, cache_root=cache_root)}", flush=True)
    return 0


def _chosen(config: FunctionConfig, directory: Path, store: StoreSettings, pinned: bool,
            names: list[str] | None) -> list[ModelSource]:
    """The function's models to warm: all, the pinned ones, or those ``names`` names."""
    sources = model_sources(config, directory, store)
    served = sorted({s.name for s in sources})
    if pinned:
        if not config.model.pinned:
            raise ConfigError("--pinned: model.pinned names no model; list models there, or drop --pinned")
        return [s for s in sources if s.name in config.model.pinned]
    if names:
        unknown = sorted(set(names) - set(served))
        if unknown:
            raise ConfigError(f"--model: {unknown[0]!r} is not one of the function's models ({', '.join(served)})")
        return [s for s in sources if s.name in names]
    return sources
