"""Fuzzy look-ups for the residue: payer names and mistyped references.

Names are compared with legal forms stripped (``ACME SARL`` = ``Acme``) using
rapidfuzz's token-sort ratio; a name wins only if it clears the cut-off *and*
beats the runner-up by a margin, because a wrong customer is worse than none.
References tolerate one typo or one transposition of adjacent characters
(optimal string alignment distance), on normalized keys of a minimum length.
"""

from __future__ import annotations

from collections.abc import Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA


def best_name(
    name: str, choices: Mapping[str, str], *, cutoff: int, margin: int,
) -> tuple[str, float] | None:
    """The key of the one choice whose (normalized) name matches ``name``, or None."""
    if not name or not choices:
        return None
    found = process.extract(name, choices, scorer=fuzz.token_sort_ratio, limit=2, score_cutoff=cutoff)
    if not found:
        return None
    _, score, key = found[0]
    if len(found) > 1 and score - found[1][1] < margin:
        return None
    return str(key), float(score)


def reference_close(a: str, b: str, *, max_distance: int, min_length: int) -> bool:
    """True when two normalized references differ by at most one typo/transposition (not when equal)."""
    if len(a) < min_length or len(b) < min_length or a == b:
        return False
    if abs(len(a) - len(b)) > max_distance:
        return False
    return OSA.distance(a, b, score_cutoff=max_distance) <= max_distance
