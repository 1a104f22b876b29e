"""Fuzzy look-ups for the residue: payer names and mistyped references.

Names are compared with legal forms stripped (``ACME SARL`` = ``Acme``) using
rapidfuzz's token-sort ratio; a name wins only if it clears the cut-off *and*
beats the runner-up by a margin, because a wrong customer is worse than none.
References tolerate one typo or one transposition of adjacent characters
(optimal string alignment distance), on normalized keys of a minimum length.
A name written in abbreviations ("ACME IND INTL") scores low on any ratio against
"ACME INDUSTRIES INTERNATIONAL"; :func:`abbreviated_name` reads it word by word.
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


def abbreviates(short: str, word: str) -> bool:
    """``short`` is ``word`` or an abbreviation of it: its start (``IND`` of ``INDUSTRIES``, a name cut short), or
    its first letter followed by some of its letters in order (``INTL`` of ``INTERNATIONAL``, ``ETS`` of
    ``ETABLISSEMENTS``, ``MGMT`` of ``MANAGEMENT``). Two letters at least, never longer than the word."""
    if short == word:
        return True
    if len(short) < 2 or len(short) >= len(word) or short[0] != word[0]:
        return False
    if not short.isalpha():  # (numbers are not abbreviated: "2000" is no abbreviation of "20001")
        return False
    rest = iter(word[1:])
    return all(ch in rest for ch in short[1:])


def _abbreviates_all(payer: list[str], customer: list[str], connectors: frozenset[str]) -> bool:
    """Each payer word abbreviates the customer's next word, in order, every customer word covered except
    connectors (``DE``, ``AND``) the payer left out."""
    i = 0
    for word in customer:
        if i < len(payer) and abbreviates(payer[i], word):
            i += 1
        elif word not in connectors:
            return False
    return i == len(payer)


def abbreviated_name(name: str, choices: Mapping[str, str], *, min_letters: int,
                     connectors: frozenset[str]) -> str | None:
    """The key of the one choice whose name ``name`` writes in abbreviations, or None (none, or several).

    Both names normalized (legal forms stripped). Only a name with an abbreviated word qualifies (an equal name is
    the exact look-up's), of at least two words or one whole word of four letters, its letters adding up to
    ``min_letters``: "ACME IND" may name Acme Industries, "AB" names nobody."""
    words = [w for w in name.split() if w not in connectors]
    if not words or min_letters <= 0 or sum(len(w) for w in words) < min_letters:
        return None
    if len(words) == 1 and len(words[0]) < 4:
        return None
    found: str | None = None
    for key, choice in choices.items():
        target = choice.split()
        if target == words or not target or not abbreviates(words[0], target[0]):
            continue
        if _abbreviates_all(words, target, connectors):
            if found is not None:
                return None
            found = str(key)
    return found
