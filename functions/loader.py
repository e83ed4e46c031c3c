"""Load a function directory's ``func.py`` by file path and collect its handlers."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from .errors import ConfigError
from .sdk import Handlers, Model, collecting

FUNC_FILE = "func.py"


def load_handlers(function_dir: str | Path) -> Handlers:
    """Execute ``<function_dir>/func.py`` under a private module name and return its handlers.

    The directory is appended to ``sys.path`` (after ours), so ``func.py`` can import its own
    helper modules but a user module called ``functions`` or ``flask`` never shadows ours.
    """
    path = Path(function_dir).resolve() / FUNC_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; a function directory needs {FUNC_FILE} with a @predictor")
    module_name = "_kfunc_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with collecting() as handlers:
        try:
            spec.loader.exec_module(module)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    handlers = _class_handlers(module, handlers) or handlers
    if handlers.predict is None and handlers.preprocess is None and handlers.generate is None:
        raise ConfigError(
            f"{path}: no predictor found; decorate a function with @predictor (or @generator) "
            "or define a subclass of functions.Model"
        )
    return handlers


def _class_handlers(module: object, registered: Handlers) -> Handlers | None:
    """Handlers from the one ``Model`` subclass defined in ``func.py``, if there is one."""
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, Model) and obj is not Model
               and obj.__module__ == module.__name__]
    if not classes:
        return None
    if len(classes) > 1 or registered.predict or registered.preprocess:
        names = ", ".join(c.__name__ for c in classes)
        raise ConfigError(f"func.py defines more than one handler set ({names} and/or decorated functions); keep one")
    try:
        return classes[0]().handlers()
    except TypeError as exc:
        raise ConfigError(f"func.py: cannot create {classes[0].__name__}(): {exc}") from None
