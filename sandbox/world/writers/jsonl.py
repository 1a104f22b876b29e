"""Provider objects as JSON Lines: one API object per line, keys in the API's order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, objects: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for obj in objects:
            fh.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def write_objects(folder: Path, objects: dict[str, list[dict[str, Any]]]) -> dict[str, Path]:
    """``<folder>/<object>.jsonl`` for every object type (empty files included, so readers find them all)."""
    return {name: _written(folder / f"{name}.jsonl", rows) for name, rows in objects.items()}


def _written(path: Path, rows: list[dict[str, Any]]) -> Path:
    write_jsonl(path, rows)
    return path
