"""Speed benchmark of the reconciliation: 1,000,000 invoices x 1,000,000 payments on DuckDB.

Synthesizes a book directly in DuckDB (generate_series), runs the full
reconciliation, an incremental run after 1 % new payments, and a bare equi-join
on the normalized reference. Then times the floor of any run: the exact-reference
rule alone writing the same outputs (fct_match, fct_invoice, exceptions, the row
hashes), to show how much of the ratio to the equi-join is writing, not matching.
Prints figures; it is not a test.

    .venv/bin/python benchmarks/bench_reconcile.py [--invoices 1000000] [--memory-limit 3GB]

Targets (issue 6): full < 60 s, peak RSS < 4 GB, full / equi-join < 10x,
incremental after 1 % new payments < 10 % of the full run.

Payment mix (per 100): 88 exact reference, 4 normalized ("Facture 2024..."),
2 digit groups ("Rechnung 2024/..."), 2 customer + amount by IBAN, 1 partial,
1 short payment within tolerance, 1 noise (unmatched), 1 failed direct debit.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warehouse.engine import DuckDBEngine  # noqa: E402
from warehouse.reconcile import reconcile  # noqa: E402
from warehouse.reconcile.schema import ensure_reconcile_tables  # noqa: E402
from warehouse.schema import ensure_table  # noqa: E402
from warehouse.shapes import SHAPES  # noqa: E402

AS_OF = date(2024, 12, 31)


def synthesize(engine: DuckDBEngine, n: int, extra: int) -> None:
    customers = max(n // 20, 10)
    ensure_reconcile_tables(engine)
    ensure_table(engine, "int_invoices", SHAPES["invoices"])
    engine.execute(f"""
        INSERT INTO dim_customer (entity, customer_id, name, iban, source_system, source_id)
        SELECT 'FR01', 'C' || i, 'Customer ' || i || ' SARL', 'FR76' || lpad(CAST(i AS VARCHAR), 23, '0'), 'bench', 'C' || i
        FROM generate_series(1, {customers}) AS t(i)""")
    engine.execute(f"""
        INSERT INTO int_invoices (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date,
                                  currency, amount_total, disputed, source_system, source_id)
        SELECT 'FR01', 'I' || i, 'FA-2024-' || lpad(CAST(i AS VARCHAR), 7, '0'), 'C' || (1 + i % {customers}),
               'invoice', DATE '2023-06-01' + CAST(i % 500 AS INTEGER), DATE '2023-07-01' + CAST(i % 500 AS INTEGER),
               'EUR', CAST(50 + (i * 7919) % 5000000 / 100.0 AS DECIMAL(18,2)), false, 'bench', 'I' || i
        FROM generate_series(1, {n + extra}) AS t(i)""")
    insert_payments(engine, 1, n, customers)


def insert_payments(engine: DuckDBEngine, first: int, last: int, customers: int) -> None:
    engine.execute(f"""
        INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status,
                                 reference, payer_name, payer_iban, source_system, source_id)
        SELECT 'FR01', 'P' || i, CASE WHEN i % 100 = 99 THEN 'gocardless' ELSE 'bank_transfer' END, NULL,
               CASE WHEN i % 100 = 96 THEN CAST(amt / 2 AS DECIMAL(18,2))
                    WHEN i % 100 = 97 THEN amt - 3.50
                    WHEN i % 100 = 98 THEN 1.23 ELSE amt END,
               0, 'EUR', DATE '2023-07-15' + CAST(i % 500 AS INTEGER),
               CASE WHEN i % 100 = 99 THEN 'failed' ELSE 'succeeded' END,
               CASE WHEN i % 100 < 88 OR i % 100 IN (96, 97, 99) THEN 'FA-2024-' || lpad(CAST(i AS VARCHAR), 7, '0')
                    WHEN i % 100 < 92 THEN 'Facture 2024' || lpad(CAST(i AS VARCHAR), 7, '0')
                    WHEN i % 100 < 94 THEN 'Rechnung 2024/' || CAST(i AS VARCHAR)
                    WHEN i % 100 < 96 THEN 'virement'
                    ELSE 'xyz' END,
               'CUSTOMER ' || (1 + i % {customers}),
               CASE WHEN i % 100 IN (94, 95) THEN 'FR76' || lpad(CAST(1 + i % {customers} AS VARCHAR), 23, '0') END,
               'bench', 'P' || i
        FROM (SELECT i, CAST(50 + (i * 7919) % 5000000 / 100.0 AS DECIMAL(18,2)) AS amt
              FROM generate_series({first}, {last}) AS t(i)) AS s""")


def settle(engine: DuckDBEngine) -> None:
    """Checkpoint what the benchmark just wrote, as the step that writes the book does in the flows.

    Each flow step opens the warehouse and closes it (``warehouse.engine.connect``), and DuckDB
    checkpoints on close: the reconciliation step starts from a checkpointed book. Without this,
    the first reconciliation statement to commit paid for checkpointing the two million rows
    synthesized above (~2 s measured at 1M), which is the data's writer's cost, not the run's.
    """
    engine.execute("CHECKPOINT")


_NORM = "regexp_replace(upper(coalesce({}, '')), '[^A-Z0-9]', '', 'g')"

# The leanest reconciliation that still writes what a run must write: one rule (the exact normalized
# reference), allocation of several payments to one invoice in date order, fct_match and fct_invoice
# with the contract's columns, an exception per payment left unmatched, and the row hashes an
# incremental run needs. Written to tables of the same shapes (floor_*), never to the run's own.
_FLOOR_STEPS = (
    ("keys", f"""CREATE TEMP TABLE floor_pay AS SELECT payment_id, paid_on, amount, currency, status,
        {_NORM.format('reference')} AS k FROM fct_payment WHERE entity = 'FR01';
        CREATE TEMP TABLE floor_inv AS SELECT invoice_id, amount_total, currency, {_NORM.format('invoice_number')} AS k
        FROM int_invoices WHERE entity = 'FR01'"""),
    ("match and allocate", """CREATE TEMP TABLE floor_alloc AS SELECT p.payment_id, i.invoice_id, p.currency,
        least(p.amount, greatest(i.amount_total - coalesce(sum(p.amount) OVER (PARTITION BY i.invoice_id
            ORDER BY p.paid_on, p.payment_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)) AS applied
        FROM floor_pay AS p JOIN floor_inv AS i ON i.k = p.k AND i.currency = p.currency
        WHERE p.status = 'succeeded' AND p.k <> ''"""),
    ("write fct_match", """INSERT INTO floor_match (entity, match_id, payment_id, invoice_id, amount_applied, currency,
        rule, confidence, explanation, matched_at, state, adjustment, source_system, source_id, _loaded_at)
        SELECT 'FR01', md5(payment_id || '|' || invoice_id), payment_id, invoice_id, applied, currency,
               'exact_reference', 1.0, 'the payment names invoice ' || invoice_id, now(), 'auto', 0, 'lettrage',
               payment_id, now()
        FROM floor_alloc WHERE applied > 0"""),
    ("write fct_invoice", """INSERT INTO floor_invoice (entity, invoice_id, invoice_number, customer_id, doc_type,
        issue_date, due_date, currency, amount_total, amount_open, status, disputed, factored, erp_lettrage,
        source_system, source_id, _loaded_at)
        SELECT i.entity, i.invoice_id, i.invoice_number, i.customer_id, i.doc_type, i.issue_date, i.due_date,
               i.currency, i.amount_total, i.amount_total - coalesce(m.s, 0),
               CASE WHEN coalesce(m.s, 0) = 0 THEN 'open' WHEN m.s >= i.amount_total THEN 'paid'
                    ELSE 'partially_paid' END,
               i.disputed, false, i.erp_lettrage, i.source_system, i.source_id, now()
        FROM int_invoices AS i
        LEFT JOIN (SELECT invoice_id, sum(amount_applied) AS s FROM floor_match GROUP BY invoice_id) AS m
          ON m.invoice_id = i.invoice_id
        WHERE i.entity = 'FR01'"""),
    ("exceptions", """INSERT INTO floor_exception (entity, exception_id, kind, payment_id, amount, currency, detail,
        opened_at, source_system, source_id, _loaded_at)
        SELECT 'FR01', md5('unmatched|' || p.payment_id), 'unmatched_payment', p.payment_id, p.amount, p.currency,
               'no invoice named', now(), 'lettrage', p.payment_id, now()
        FROM floor_pay AS p LEFT JOIN (SELECT DISTINCT payment_id FROM floor_alloc) AS m ON m.payment_id = p.payment_id
        WHERE m.payment_id IS NULL"""),
    ("row hashes", """INSERT INTO floor_payment_state SELECT 'FR01', payment_id, CAST(hash(payment_id, amount, status,
            reference, customer_id, payer_iban, payer_name, currency, paid_on, channel) >> 1 AS BIGINT), now()
        FROM fct_payment WHERE entity = 'FR01';
        INSERT INTO floor_invoice_state SELECT 'FR01', invoice_id, CAST(hash(invoice_id, invoice_number,
            amount_total, customer_id, currency, due_date, erp_lettrage, doc_type, issue_date, disputed,
            erp_amount_open) >> 1 AS BIGINT), now()
        FROM int_invoices WHERE entity = 'FR01'"""),
)


def floor_pipeline(engine: DuckDBEngine) -> dict[str, float]:
    """Time :data:`_FLOOR_STEPS`: what any run writing the contract's outputs pays before its first rule
    beyond the exact reference, under the run's own DuckDB settings (uncompressed writes)."""
    for floor, like in (("floor_match", "fct_match"), ("floor_invoice", "fct_invoice"),
                        ("floor_exception", "fct_reconciliation_exception"),
                        ("floor_payment_state", "reconcile_payment_state"),
                        ("floor_invoice_state", "reconcile_invoice_state")):
        engine.execute(f"CREATE TABLE {floor} AS SELECT * FROM {like} LIMIT 0")
    engine.execute("SET force_compression = 'uncompressed'")
    engine.execute("SET preserve_insertion_order = false")
    timings = {}
    for name, sql in _FLOOR_STEPS:
        t = time.perf_counter()
        for stmt in sql.split(";"):
            engine.execute(stmt)
        timings[name] = time.perf_counter() - t
    return timings


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (peak RSS target is 4 GB)")
    args = parser.parse_args()
    n, extra = args.invoices, args.invoices // 100
    with tempfile.TemporaryDirectory() as tmp:
        engine = DuckDBEngine(str(Path(tmp) / "bench.duckdb"), "lettrage")
        engine.execute(f"SET memory_limit = '{args.memory_limit}'")
        print(f"load average at start {os.getloadavg()[0]:.2f}: figures vary with other jobs on the machine")
        t = time.perf_counter()
        synthesize(engine, n, extra)
        settle(engine)
        print(f"synthesized {n + extra:,} invoices and {n:,} payments in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        engine.execute(
            "CREATE TEMP TABLE bench_join AS SELECT p.payment_id, i.invoice_id FROM fct_payment AS p "
            "JOIN int_invoices AS i ON regexp_replace(upper(coalesce(p.reference, '')), '[^A-Z0-9]', '', 'g') "
            "= regexp_replace(upper(coalesce(i.invoice_number, '')), '[^A-Z0-9]', '', 'g')")
        join_s = time.perf_counter() - t
        joined = engine.query("SELECT count(*) FROM bench_join")[0][0]
        print(f"bare equi-join on the normalized reference: {join_s:.2f} s ({joined:,} pairs)")

        summary = reconcile(engine, as_of=AS_OF, entity="FR01")
        full_s = summary.seconds
        print(f"full reconciliation: {full_s:.2f} s; ratio to equi-join {full_s / join_s:.1f}x; "
              f"residue {summary.residue_payments:,} payments")
        print("  steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(summary.timings.items())))
        print(f"  matches by state {summary.matches}")
        print(f"  matches by rule {summary.rules}")
        print(f"  open exceptions {summary.exceptions}")

        insert_payments(engine, n + 1, n + extra, max(n // 20, 10))
        settle(engine)
        inc = reconcile(engine, as_of=AS_OF, entity="FR01", incremental=True)
        print(f"incremental after {extra:,} new payments: {inc.seconds:.2f} s = {inc.seconds / full_s:.1%} of full "
              f"({inc.payments_in_scope:,} payments in scope)")
        print("  steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(inc.timings.items())))
        floor = floor_pipeline(engine)
        floor_s = sum(floor.values())
        print(f"floor (exact reference only, same outputs written): {floor_s:.2f} s = {floor_s / join_s:.1f}x "
              "the equi-join; " + ", ".join(f"{k} {v:.2f}s" for k, v in floor.items()))
        print(f"peak RSS {rss_mb():,.0f} MB; load average {os.getloadavg()[0]:.2f} (2-core machine, shared)")
        targets = [("full < 60 s", full_s < 60), ("peak < 4 GB", rss_mb() < 4096),
                   ("ratio < 10x", full_s / join_s < 10), ("incremental < 10 %", inc.seconds < 0.1 * full_s)]
        print("targets: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets))
        engine.close()


if __name__ == "__main__":
    main()
