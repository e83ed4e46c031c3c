"""Project templates: find them (built-in or a user repository), render them into a new function.

A template is a directory holding the files of a new project (``func.py``, ``kfunc.yaml``,
``requirements.txt``, ``tests/``, ``README.md``...) and an optional ``manifest.yaml`` with a
one-line ``description:``. Every ``{{name}}`` in a text file becomes the function's name.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from functions.config import CONFIG_FILE, FunctionConfig, check_name
from functions.errors import ConfigError
from functions.loader import FUNC_FILE
from functions.schema import parse

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
MANIFEST = "manifest.yaml"
PLACEHOLDER = "{{name}}"
_SKIPPED = {MANIFEST, "__pycache__", ".pytest_cache", ".DS_Store"}


@dataclass(frozen=True)
class Template:
    """One template: its name, where its files are, and what it makes."""

    name: str
    path: Path
    description: str
    builtin: bool


def list_templates(repository: Path | None = None) -> list[Template]:
    """The built-in templates, then those in ``repository`` (which shadow built-ins of the same name)."""
    found = {t.name: t for t in _templates_in(BUILTIN_DIR, builtin=True)}
    if repository is not None:
        own = _templates_in(_checked_repository(repository), builtin=False)
        if not own:
            raise ConfigError(
                f"--repository {repository}: no templates there; a template is a directory "
                f"holding at least {FUNC_FILE} and {CONFIG_FILE}")
        found.update((t.name, t) for t in own)
    return sorted(found.values(), key=lambda t: (not t.builtin, t.name))


def find_template(name: str, repository: Path | None = None) -> Template:
    """The template called ``name``; an unknown name is an error listing the choices."""
    templates = {t.name: t for t in list_templates(repository)}
    if name in templates:
        return templates[name]
    close = difflib.get_close_matches(name, templates, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"--template {name!r}: no such template; {hint}choose one of {', '.join(templates)} "
                      "(see 'kfunc templates')")


def check_function_name(name: str) -> None:
    """Raise ConfigError unless ``name`` can name a function (a Knative Service: a DNS-1035 label)."""
    problem = check_name(name)
    if problem:
        raise ConfigError(f"function name {name!r}: {problem}")


def render(template: Template, name: str) -> dict[Path, bytes]:
    """The new project's files (relative path -> content) with ``{{name}}`` filled in.

    The rendered ``kfunc.yaml`` is checked, so a broken user template fails before anything is written.
    """
    check_function_name(name)
    files = {}
    for source in sorted(template.path.rglob("*")):
        relative = source.relative_to(template.path)
        if source.is_file() and not _SKIPPED.intersection(relative.parts) and source.suffix != ".pyc":
            files[relative] = _fill(source.read_bytes(), name)
    _check_rendered(template, files)
    return files


def write_project(files: dict[Path, bytes], target: Path) -> None:
    """Write rendered files under ``target``, which must not exist or be an empty directory."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} exists and is not a directory; choose another --path")
    if target.is_dir() and any(target.iterdir()):
        raise ConfigError(f"{target} already exists and is not empty; choose another --path or remove it")
    for relative, content in files.items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)


def _fill(content: bytes, name: str) -> bytes:
    """Substitute the placeholder in text files; binary files are copied as they are."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content
    return text.replace(PLACEHOLDER, name).encode("utf-8")


def _check_rendered(template: Template, files: dict[Path, bytes]) -> None:
    for required in (FUNC_FILE, CONFIG_FILE):
        if Path(required) not in files:
            raise ConfigError(f"template {template.name} ({template.path}) has no {required}")
    where = f"template {template.name}: {CONFIG_FILE}"
    try:
        parse(FunctionConfig, yaml.safe_load(files[Path(CONFIG_FILE)]) or {}, "")
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML once rendered: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _checked_repository(repository: Path) -> Path:
    if not repository.is_dir():
        raise ConfigError(f"--repository {repository}: not a directory; point it at a directory of templates")
    return repository


def _templates_in(directory: Path, *, builtin: bool) -> list[Template]:
    """Every subdirectory of ``directory`` holding a ``func.py`` is a template."""
    return [Template(entry.name, entry, _description(entry), builtin)
            for entry in sorted(directory.iterdir())
            if entry.is_dir() and (entry / FUNC_FILE).is_file()]


def _description(template_dir: Path) -> str:
    manifest = template_dir / MANIFEST
    if not manifest.is_file():
        return ""
    try:
        data = yaml.safe_load(manifest.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{manifest}: not valid YAML: {exc}") from None
    description = data.get("description", "") if isinstance(data, dict) else ""
    return " ".join(str(description).split())
