"""Bounded subset-sum: which of a customer's open items does one payment settle?

Items are integer minor units, oldest first; credit notes are negative and net
against invoices. The search is depth-first in item order, so the first
solution found prefers the oldest items, and it stops after ``limit``
solutions or ``max_nodes`` visited nodes: the caller needs to know "exactly
one" versus "several" (ambiguous), never every solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubsetResult:
    solutions: tuple[tuple[int, ...], ...]
    exhausted: bool  # True when the node budget ran out before the search finished

    @property
    def unique(self) -> tuple[int, ...] | None:
        return self.solutions[0] if len(self.solutions) == 1 and not self.exhausted else None


def subset_sum(
    amounts: Sequence[int], target: int, *, max_size: int = 6, max_nodes: int = 200_000, limit: int = 2,
) -> SubsetResult:
    """Index tuples of ``amounts`` summing exactly to ``target`` (at most ``limit`` of them)."""
    n = len(amounts)
    # suffix bounds: the most and least the remaining items can still add
    pos_suffix = [0] * (n + 1)
    neg_suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        pos_suffix[i] = pos_suffix[i + 1] + max(amounts[i], 0)
        neg_suffix[i] = neg_suffix[i + 1] + min(amounts[i], 0)
    solutions: list[tuple[int, ...]] = []
    nodes = 0
    exhausted = False
    chosen: list[int] = []

    def walk(start: int, total: int) -> bool:
        nonlocal nodes, exhausted
        for i in range(start, n):
            nodes += 1
            if nodes > max_nodes:
                exhausted = True
                return True
            new_total = total + amounts[i]
            chosen.append(i)
            if new_total == target:
                solutions.append(tuple(chosen))
                if len(solutions) >= limit:
                    chosen.pop()
                    return True
            if len(chosen) < max_size and i + 1 < n:
                lo, hi = new_total + neg_suffix[i + 1], new_total + pos_suffix[i + 1]
                if lo <= target <= hi and walk(i + 1, new_total):
                    chosen.pop()
                    return True
            chosen.pop()
        return False

    if n and target != 0:
        walk(0, 0)
    return SubsetResult(tuple(solutions), exhausted)


def oldest_prefix(amounts: Sequence[int], target: int, max_size: int) -> int | None:
    """Length of the oldest-first prefix summing to ``target`` (the way most customers pay a statement)."""
    total = 0
    for i, amount in enumerate(amounts[:max_size]):
        total += amount
        if total == target:
            return i + 1
    return None
