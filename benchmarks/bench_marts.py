"""Mart refresh on a synthetic book of 1,000,000 invoices (DuckDB). Target: under 30 s.

Synthesises customers, invoices, payments and matches with generate_series straight into
the contract tables of a fresh DuckDB file, then times the whole mart step as the nightly flow runs
it (``refresh_marts``: late-payment predictions, ``build_marts``, ``apply_customer_scores``), each part
apart, and prints seconds and peak memory (RSS of this process).

    .venv/bin/python benchmarks/bench_marts.py [--invoices 1000000] [--as-of 2025-06-15]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from lettrage.config import WarehouseConfig
from warehouse.build import build_marts
from warehouse.engine import connect
from warehouse.marts import apply_customer_scores
from warehouse.predict.store import write_predictions
from warehouse.schema import ensure_contract


def synthesize(engine, n: int, as_of: date) -> None:  # type: ignore[no-untyped-def]
    """~n invoices over 3 years for n/50 customers in 2 entities; ~88 % paid, 5 % partially, some late."""
    customers = max(n // 50, 10)
    a = as_of.isoformat()
    engine.execute(f"""
        INSERT INTO dim_customer (entity, customer_id, name, payment_terms_days, credit_limit, currency,
                                  source_system, source_id, _loaded_at)
        SELECT CASE WHEN i % 2 = 0 THEN 'FR01' ELSE 'DE01' END, 'C' || i, 'Customer ' || i, 30,
               CASE WHEN i % 3 = 0 THEN CAST(50000 AS DECIMAL(18,2)) END, 'EUR', 'bench', 'C' || i, now()
        FROM generate_series(0, {customers - 1}) AS g(i)""")
    engine.execute(f"""
        CREATE TEMP TABLE bench_inv AS
        SELECT i, CASE WHEN (i % {customers}) % 2 = 0 THEN 'FR01' ELSE 'DE01' END AS entity,
               'C' || (i % {customers}) AS customer_id,
               DATE '{a}' - CAST(1095 * ((i * 7919) % {n}) / {n} AS INTEGER) AS issue_date,
               CAST(100 + (i * 37) % 9900 AS DECIMAL(18,2)) AS amount,
               -- delay relative to due date: customers have habits (their id decides), plus noise
               CAST(((i % {customers}) % 7) * 5 - 5 + (i * 13) % 11 AS INTEGER) AS delay,
               (i * 31) % 100 AS u
        FROM generate_series(0, {n - 1}) AS g(i)""")
    engine.execute(f"""
        INSERT INTO fct_invoice (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date,
                                 currency, amount_total, amount_open, status, disputed, factored, _loaded_at)
        SELECT entity, 'I' || i, 'INV' || i, customer_id, CASE WHEN u = 99 THEN 'credit_note' ELSE 'invoice' END,
               issue_date, issue_date + 30, 'EUR',
               CASE WHEN u = 99 THEN -amount ELSE amount END,
               CASE WHEN u = 99 THEN -amount
                    WHEN issue_date + 30 + delay <= DATE '{a}' AND u < 93 THEN 0
                    WHEN issue_date + 30 + delay <= DATE '{a}' AND u < 97 THEN round(amount / 2, 2)
                    ELSE amount END,
               CASE WHEN u = 99 THEN 'open'
                    WHEN issue_date + 30 + delay <= DATE '{a}' AND u < 93 THEN 'paid'
                    WHEN issue_date + 30 + delay <= DATE '{a}' AND u < 97 THEN 'partially_paid'
                    WHEN issue_date + 30 < DATE '{a}' THEN 'overdue' ELSE 'open' END,
               u = 98, FALSE, now()
        FROM bench_inv""")
    engine.execute(f"""
        INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status,
                                 _loaded_at)
        SELECT entity, 'P' || i, 'bank_transfer', customer_id,
               CASE WHEN u < 93 THEN amount ELSE round(amount / 2, 2) END, 0, 'EUR',
               issue_date + 30 + delay, 'succeeded', now()
        FROM bench_inv WHERE issue_date + 30 + delay <= DATE '{a}' AND u < 97""")
    engine.execute("""
        INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, currency, rule, confidence,
                               matched_at, state)
        SELECT entity, 'M' || substr(payment_id, 2), payment_id, 'I' || substr(payment_id, 2), amount, 'EUR',
               'exact_reference', 1, now(), CASE WHEN length(payment_id) % 5 = 0 THEN 'confirmed' ELSE 'auto' END
        FROM fct_payment""")
    engine.execute("DROP TABLE bench_inv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--as-of", default="2025-06-15")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    with tempfile.TemporaryDirectory() as tmp:
        config = WarehouseConfig(url=f"duckdb:///{Path(tmp) / 'bench.duckdb'}")
        with connect(config) as engine:
            ensure_contract(engine)
            t0 = time.perf_counter()
            synthesize(engine, args.invoices, as_of)
            t1 = time.perf_counter()
            counts = {t: engine.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("fct_invoice", "fct_match")}
            print(f"synthesised {counts} in {t1 - t0:.1f} s")
            # the same three parts, in the same order, as warehouse.marts.refresh_marts, timed apart
            t_pred = time.perf_counter()
            predicted = write_predictions(engine, as_of)
            t2 = time.perf_counter()
            report = build_marts(engine, as_of=as_of)
            t3 = time.perf_counter()
            scored = apply_customer_scores(engine)
            t4 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"marts: {report.marts}")
    print(f"predictions: {t2 - t_pred:.1f} s ({predicted.rows} open invoices); build_marts: {t3 - t2:.1f} s; "
          f"apply_customer_scores: {t4 - t3:.2f} s ({scored} customers)")
    print(f"mart refresh total: {t4 - t_pred:.1f} s (target < 30 s); peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
