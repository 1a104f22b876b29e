"""Reading the YAML files under ``mappings/`` into validated pydantic models.

Kept apart so every mapping module loads its data the same way and a bad file
names itself and the failing field.

A deployment keeps its own mappings outside the install: ``$LETTRAGE__MAPPINGS_DIR`` is a folder laid
out like ``mappings/`` (``entities.yaml``, ``matching.yaml``, ``sap/layouts/…``), and a file there is
read instead of the packaged file of the same path (:func:`mapping_file`); SAP layouts found there are
added to the packaged ones. Adding an entity, a tolerance or an export layout then needs no edit of the
installed package, and an upgrade keeps them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAPPINGS_DIR = Path(__file__).resolve().parent
DEPLOYMENT_DIR_ENV = "LETTRAGE__MAPPINGS_DIR"
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def deployment_dir() -> Path | None:
    """The deployment's mappings folder (``$LETTRAGE__MAPPINGS_DIR``), or None when not set."""
    value = os.environ.get(DEPLOYMENT_DIR_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise MappingError(f"{DEPLOYMENT_DIR_ENV}={value} is not a folder")
    return folder


def mapping_file(relative: str) -> Path:
    """The deployment's copy of the mapping file ``relative`` when it has one, else the packaged file."""
    folder = deployment_dir()
    if folder is not None and (folder / relative).is_file():
        return folder / relative
    return MAPPINGS_DIR / relative


def overridable(relative: str) -> Callable[[Callable[[Path], T]], Callable[..., T]]:
    """Make ``load(path)`` read :func:`mapping_file` ``(relative)`` when called without a path.

    The result is cached per file path (each loader is asked for its mapping by every step), so a
    deployment folder set between two calls (a test, a second sync with other settings) is read anew.
    """
    def decorate(load: Callable[[Path], T]) -> Callable[..., T]:
        cached = lru_cache(maxsize=8)(load)

        @wraps(load)
        def loader(path: Path | str | None = None) -> T:
            return cached(Path(path) if path else mapping_file(relative))

        loader.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return loader
    return decorate


class MappingError(ValueError):
    """A mapping file is missing or invalid (names the file and the field)."""


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise MappingError(f"mapping file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc


def load_model(model: type[M], path: Path) -> M:
    """Validate one YAML file against ``model``; errors name the file."""
    try:
        return model.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise MappingError(f"{path}: {exc}") from exc


def only_known(values: tuple[str, ...], known: tuple[str, ...] | frozenset[str], what: str) -> tuple[str, ...]:
    """``values`` unchanged when each is one of ``known``; else the validation error that lists both."""
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; expected some of {list(known)}")
    return values


def each_matching(values: tuple[str, ...], pattern: re.Pattern[str], message: str) -> tuple[str, ...]:
    """``values`` without repeats when each matches ``pattern``; else ``message`` (``{!r}``: the value) as
    the validation error. Codes that reach SQL as literals (journal, bank or metadata codes) go through here."""
    for value in values:
        if not pattern.match(value):
            raise ValueError(message.format(value))
    return tuple(dict.fromkeys(values))
