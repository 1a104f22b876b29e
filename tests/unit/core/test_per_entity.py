"""warehouse.sql.per_entity: one value per entity as SQL, for overrides, currencies and default terms."""

from __future__ import annotations

from warehouse.sql import per_entity


def test_a_value_per_entity_else_the_default() -> None:
    assert per_entity("d.entity", {"FR01": 45, "O'X": 60}, 30) == \
        "(CASE d.entity WHEN 'FR01' THEN 45 WHEN 'O''X' THEN 60 ELSE 30 END)"


def test_text_values_are_quoted_and_no_entity_leaves_the_default() -> None:
    assert per_entity("e", {"DE01": "EUR"}, "NULL", quote=True) == "(CASE e WHEN 'DE01' THEN 'EUR' ELSE NULL END)"
    assert per_entity("e", {}, 30) == "30"
