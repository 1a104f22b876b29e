"""The Arrow tables the sources yield declare their primary key columns non-nullable, as dlt's key hints do.

Otherwise dlt warns on every table it extracts ("several column hints were different"): one WARNING per
statement file, 396 lines in a night of a volume book, drowning the warnings ops must read.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from connectors.camt053 import entries
from connectors.camt053.parse import ENTRIES_SCHEMA
from connectors.sage_fec import fec_lines
from connectors.sage_fec.parse import LINES_SCHEMA
from connectors.sap_export import items
from connectors.sap_export.parse import ITEMS_SCHEMA


@pytest.mark.parametrize(("resource", "schema"), [(entries, ENTRIES_SCHEMA), (fec_lines, LINES_SCHEMA),
                                                  (items, ITEMS_SCHEMA)],
                         ids=["camt053", "sage_fec", "sap_export"])
def test_every_primary_key_column_is_non_nullable_in_the_arrow_schema(resource: object, schema: pa.Schema) -> None:
    keys = resource._hints["primary_key"]  # type: ignore[attr-defined]
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    assert keys and all(not schema.field(k).nullable for k in keys), keys


def test_a_provider_page_keeps_its_id_non_nullable() -> None:
    from connectors._arrow import rows_table, shape_table

    shaped = shape_table(rows_table([{"id": "ch_1", "amount": 100}, {"id": "ch_2", "amount": None}]),
                         {"amount": {"data_type": "bigint"}}, {"entity": "FR01"})
    assert not shaped.schema.field("id").nullable and shaped.schema.field("amount").nullable
