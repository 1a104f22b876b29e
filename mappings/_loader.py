"""Reading the YAML files under ``mappings/`` into validated pydantic models.

Kept apart so every mapping module loads its data the same way and a bad file
names itself and the failing field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAPPINGS_DIR = Path(__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)


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
