"""Every mart against hand-computed values on the tiny book (tests/integration/marts/book.py), both engines."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.integration.marts.conftest import D, rows
from warehouse.build import build_marts
from warehouse.checks import run_checks
from warehouse.engine import Engine
from warehouse.marts import apply_customer_scores


def test_open_receivables_split_by_status(book: Engine) -> None:
    got = {(r["customer_id"], r["status"]): (r["amount_open"], r["invoice_count"]) for r in rows(
        book, "SELECT customer_id, status, amount_open, invoice_count FROM mart_open_receivables")}
    assert got == {
        ("C1", "not_due"): (D("400"), 2),          # I3 due today (not overdue) + I10; I8 issued after as_of
        ("C2", "partially_paid"): (D("1200"), 1),  # I4: 2100 - 900
        ("C2", "disputed"): (D("400"), 1),         # I5
        ("C2", "overdue"): (D("600"), 2),          # I9 700 (paid only after as_of) + credit note CN1 -100
        ("C3", "overdue"): (D("250"), 1),          # I6; X1 is written off, out of the encours
    }
    assert sum(v[0] for v in got.values()) == D("2850")


def test_aged_balance_buckets_sum_to_open_receivables(book: Engine) -> None:
    got = {(r["customer_id"], r["bucket"]): r["amount_open"] for r in rows(
        book, "SELECT customer_id, bucket, amount_open FROM mart_aged_balance")}
    assert got == {
        ("C1", "not_due"): D("400"),
        ("C2", "1_30"): D("1000"),     # I5 400 (13 d) + I9 700 (5 d) - CN1 100 (24 d)
        ("C2", "61_90"): D("1200"),    # I4 due 2023-12-31: 75 days (29 in February)
        ("C3", "over_90"): D("250"),   # I6 due 2023-10-31: 136 days
    }
    assert [f for f in run_checks(book) if f.check == "aged_balance_sums_to_open_receivables"] == []


def test_customer_payment_behaviour(book: Engine) -> None:
    got = {r["customer_id"]: r for r in rows(book, "SELECT * FROM mart_customer_payment_behaviour")}
    c1, c2, c3 = got["C1"], got["C2"], got["C3"]
    # C1: I1 1000 paid in 30 d, on time; I2 400 paid in 34 d (over 29 Feb), 6 d late.
    assert (c1["paid_invoices"], c1["avg_days_to_pay"], c1["avg_days_late"], c1["on_time_rate"]) == (
        2, D("31.14"), D("1.71"), D("0.5"))
    assert c1["segment"] == "occasional_late"
    # 100 * (0.4*0.5 + 0.3*(1 - 1.714286/60) + 0.2*1 + 0.1*1)
    assert c1["score"] == D("79.14")
    # C2: nothing paid by as_of (I9 paid after); 1200 open > 60 days past due -> chronic_late.
    assert (c2["paid_invoices"], c2["avg_days_late"], c2["on_time_rate"]) == (0, None, None)
    assert c2["segment"] == "chronic_late"
    # 100 * (0.4*0.5 + 0.3*0.5 + 0.2*(1 - 1200/2200) + 0.1*(1 - 1/3))
    assert c2["score"] == D("50.76")
    # C3: I7 paid 60 days late, I6 open 136 days -> at_risk.
    assert (c3["avg_days_to_pay"], c3["avg_days_late"], c3["on_time_rate"], c3["segment"], c3["score"]) == (
        D("90"), D("60"), D("0"), "at_risk", D("10"))


def test_scores_written_back_to_dim_customer(book: Engine) -> None:
    assert apply_customer_scores(book) == 3
    got = {r["customer_id"]: (r["segment"], r["score"]) for r in rows(
        book, "SELECT customer_id, segment, score FROM dim_customer")}
    assert got == {"C1": ("occasional_late", D("79.14")), "C2": ("chronic_late", D("50.76")),
                   "C3": ("at_risk", D("10"))}


def test_dso_countback_and_simple(book: Engine) -> None:
    got = {r["month_end"]: r for r in rows(book, "SELECT * FROM mart_dso")}
    assert max(got) == date(2024, 2, 29)       # last month end on or before 2024-03-15
    feb = got[date(2024, 2, 29)]
    # AR 3150; Feb sales 1300 (29 d), Jan 1400 (31 d), then 450 of Dec's 2100 -> 450/2100*31
    assert (feb["receivables"], feb["credit_sales_month"], feb["dso_countback"]) == (D("3150"), D("1300"), D("66.64"))
    # 90 days back is 2023-12-01 exclusive: Jan + Feb = 2700 -> 3150/2700*90
    assert (feb["credit_sales_90d"], feb["dso_simple"]) == (D("2700"), D("105"))
    jan = got[date(2024, 1, 31)]
    assert (jan["receivables"], jan["dso_countback"], jan["dso_simple"]) == (D("2850"), D("52.4"), D("73.29"))
    assert len(got) == 10  # from the first sale (May 2023) to Feb 2024


def test_cash_forecast(book: Engine) -> None:
    got = {(r["period"], r["horizon_days"]): (r["expected_cash"], r["open_amount"], r["week_start"]) for r in rows(
        book, "SELECT * FROM mart_cash_forecast")}
    # Everything overdue or due now lands on 2024-03-16/17, weighted by 1 - loss rate:
    # I3 300*0.995 + I4 1200*0.8 + I5 400*0.96*0.5 + I9 700*0.96 + I6 250*0.25 = 2185.00;
    # I10 due 2024-05-10 + C1's 2-day delay -> 2024-05-12 (58 days): 100*0.995.
    assert got[("horizon", 30)] == (D("2185"), D("2850"), None)
    assert got[("horizon", 60)] == (D("2284.5"), D("2950"), None)
    assert got[("horizon", 90)] == (D("2284.5"), D("2950"), None)
    assert got[("week", 2)] == (D("2185"), D("2850"), date(2024, 3, 11))
    assert got[("week", 58)] == (D("99.5"), D("100"), date(2024, 5, 6))


def test_credit_exposure(book: Engine) -> None:
    got = {r["customer_id"]: r for r in rows(book, "SELECT * FROM mart_credit_exposure")}
    c1, c2, c3 = got["C1"], got["C2"], got["C3"]
    assert (c1["credit_limit"], c1["exposure"], c1["headroom"], c1["over_limit"], c1["flag_reason"]) == (
        D("1000"), D("400"), D("600"), False, None)                     # ERP limit
    assert (c2["credit_limit"], c2["exposure"], c2["limit_source"], c2["flag_reason"]) == (
        D("10000"), D("2200"), "policy", None)                          # chronic_late default
    assert (c3["credit_limit"], c3["exposure"], c3["headroom"], c3["over_limit"], c3["flag_reason"]) == (
        D("0"), D("250"), D("-250"), True, "over_limit,score_below_threshold")


def test_receivables_impairment(book: Engine) -> None:
    got = {(r["month_end"], r["customer_id"], r["bucket"]): r for r in rows(
        book, "SELECT * FROM mart_receivables_impairment")}
    feb, jan, dec = date(2024, 2, 29), date(2024, 1, 31), date(2023, 12, 31)
    # C1 at Feb end: I3 300 not due (0.5 %), I2 400 one day late (2 %); at Jan end 1400 not due.
    assert got[(feb, "C1", "not_due")]["provision_total"] == D("1.5")
    assert got[(feb, "C1", "not_due")]["movement"] == D("-5.5")
    assert got[(feb, "C1", "1_30")]["provision_total"] == D("8")
    # C2 at Feb end: I9 700 collective 1 % + disputed I5 400 specific 50 %.
    row = got[(feb, "C2", "not_due")]
    assert (row["amount_open"], row["provision_collective"], row["provision_specific"], row["provision_total"]) == (
        D("1100"), D("7"), D("200"), D("207"))
    # The unapplied credit note carries no provision.
    assert got[(feb, "C2", "1_30")]["provision_total"] == D("0")
    # C3 (at_risk): I6 over 90 days -> 100 % specific; in December it was 61-90 -> 40 % collective.
    assert (got[(feb, "C3", "over_90")]["provision_specific"], got[(feb, "C3", "over_90")]["movement"]) == (
        D("250"), D("0"))
    assert got[(dec, "C3", "61_90")]["provision_collective"] == D("100")
    # A row that vanished shows its reversal.
    assert (got[(jan, "C2", "not_due")]["provision_total"], got[(jan, "C2", "not_due")]["movement"]) == (
        D("0"), D("-21"))
    # Movements add up to the change of the total between two month ends.
    totals = {me: sum(r["provision_total"] for k, r in got.items() if k[0] == me) for me in (feb, jan)}
    assert sum(r["movement"] for k, r in got.items() if k[0] == feb) == totals[feb] - totals[jan]
    assert len({k[0] for k in got}) == 6  # month ends with something open, within the 13 shown


def test_collection_kpis(book: Engine) -> None:
    got = {r["month"]: r for r in rows(book, "SELECT * FROM mart_collection_kpis")}
    mar, feb = got[date(2024, 3, 1)], got[date(2024, 2, 1)]
    assert mar["measured_on"] == date(2024, 3, 15)
    assert (mar["overdue_ratio"], mar["dispute_rate"]) == (D("0.8596"), D("0.1404"))   # 2450/2850, 400/2850
    assert mar["recovery_rate"] == D("0.2162")             # I2 (overdue at Feb end) 400 / 1850
    assert mar["auto_match_rate"] == D("0.5")              # M2 auto, M6 suggested; M7 rejected left out
    assert (mar["reminders_sent"], mar["paid_within_7d_rate"]) == (3, D("0.3333"))
    assert mar["paid_within_7d_by_step"] == "reminder_1=50%;reminder_2=0%"
    assert mar["overdue_concentration_top20"] == D("0.898")  # C2 2200 of 2450
    assert (feb["overdue_ratio"], feb["dispute_rate"], feb["recovery_rate"], feb["auto_match_rate"]) == (
        D("0.5556"), D("0.127"), D("0"), D("1"))


def test_match_rate(book: Engine) -> None:
    got = rows(book, "SELECT entity, payments, auto_matched, confirmed, suggested, auto_match_rate FROM mart_match_rate")
    # paid by 2024-03-15: P1, P2, P3 auto; P4 confirmed; P6 suggested (M7, rejected, does not count);
    # P5 is paid after as_of
    assert [(r["payments"], r["auto_matched"], r["confirmed"], r["suggested"], r["auto_match_rate"])
            for r in got] == [(5, 3, 1, 1, D("0.6"))]


def test_unapplied_cash_of_a_payer_the_bank_did_not_name_is_its_customers(book: Engine) -> None:
    """P7 (no customer on the payment: no IBAN on file) pays C1's I10 and 250.00 more: that is C1's credit,
    not an unknown payer's."""
    book.execute("INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, "
                 "status, source_system, source_id) VALUES ('FR01', 'P7', 'bank_transfer', NULL, 350.00, 0, 'EUR', "
                 "DATE '2024-03-12', 'succeeded', 'test', 'P7')")
    book.execute("INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, currency, rule, "
                 "confidence, state) VALUES ('FR01', 'M8', 'P7', 'I10', 100.00, 'EUR', 'test', 1, 'auto')")
    build_marts(book, as_of=date(2024, 3, 15))
    got = rows(book, "SELECT customer_id, amount_unapplied, payment_count FROM mart_unapplied_cash "
                     "WHERE entity = 'FR01' ORDER BY customer_id")
    # C1 already had P6's 300.00 (only suggested): 300 + 250
    assert ("C1", D("550"), 2) in [(r["customer_id"], r["amount_unapplied"], r["payment_count"]) for r in got]
    assert all(r["customer_id"] is not None for r in got)


def test_unapplied_cash_of_a_transfer_for_an_invoice_already_paid_is_that_invoice_s_customer(book: Engine) -> None:
    """P9 (no customer on the payment) names I9, which C2 had already paid by card: nothing applied, an open
    overpayment exception names I9, so the 700.00 is C2's credit rather than an unknown payer's."""
    def c2() -> Any:
        got = rows(book, "SELECT amount_unapplied FROM mart_unapplied_cash WHERE entity = 'FR01' AND customer_id = 'C2'")
        return got[0]["amount_unapplied"] if got else D("0")

    before = c2()
    book.execute("INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, "
                 "status, source_system, source_id) VALUES ('FR01', 'P9', 'bank_transfer', NULL, 700.00, 0, 'EUR', "
                 "DATE '2024-03-12', 'succeeded', 'test', 'P9')")
    book.execute("INSERT INTO fct_reconciliation_exception (entity, exception_id, kind, payment_id, invoice_id, amount, "
                 "currency, detail, opened_at) VALUES ('FR01', 'E9', 'overpayment', 'P9', 'I9', 700.00, 'EUR', "
                 "'the invoice(s) this payment names are already settled', TIMESTAMP '2024-03-12 08:00:00')")
    build_marts(book, as_of=date(2024, 3, 15))
    assert c2() == before + D("700")
    assert rows(book, "SELECT count(*) AS n FROM mart_unapplied_cash WHERE customer_id IS NULL")[0]["n"] == 0


def test_unapplied_cash_of_a_payer_the_reconciliation_identified_is_that_customer_s(book: Engine) -> None:
    """P11 (no customer on the payment: an account nobody has on file) paid 5,000.00 on account; the
    reconciliation found the payer to be C3 by its name and raised unmatched_payment naming C3 (customer_id):
    the 5,000.00 is C3's credit, not an unknown payer's."""
    book.execute("INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, "
                 "status, source_system, source_id) VALUES ('FR01', 'P11', 'bank_transfer', NULL, 5000.00, 0, 'EUR', "
                 "DATE '2024-03-12', 'succeeded', 'test', 'P11')")
    book.execute("INSERT INTO fct_reconciliation_exception (entity, exception_id, kind, payment_id, customer_id, "
                 "amount, currency, detail, opened_at) VALUES ('FR01', 'E11', 'unmatched_payment', 'P11', 'C3', "
                 "5000.00, 'EUR', 'no invoice found (C3)', TIMESTAMP '2024-03-12 08:00:00')")
    build_marts(book, as_of=date(2024, 3, 15))
    got = rows(book, "SELECT customer_id, amount_unapplied FROM mart_unapplied_cash WHERE entity = 'FR01' "
                     "AND customer_id = 'C3'")
    assert [r["amount_unapplied"] for r in got] == [D("5000")]
    assert rows(book, "SELECT count(*) AS n FROM mart_unapplied_cash WHERE customer_id IS NULL")[0]["n"] == 0


def test_an_erp_receipt_no_statement_can_show_left_unapplied_is_customer_credit(book: Engine) -> None:
    """US01 has no bank or provider data: its ERP (NetSuite) is the only evidence. A payment of 500.00 left on
    account there, and 50.00 beyond the invoice another one paid, are its customers' credit. FR01's ERP receipt
    within the statements' period is evidence of a bank line already counted: not counted again."""
    def fr01_c1() -> list[dict[str, Any]]:
        return rows(book, "SELECT amount_unapplied FROM mart_unapplied_cash WHERE entity = 'FR01' AND customer_id = 'C1'")

    build_marts(book, as_of=date(2024, 3, 15))
    before = fr01_c1()
    for pid, entity, customer, amount, currency in (("NS-1", "US01", "U1", "500.00", "USD"),
                                                   ("NS-2", "US01", "U2", "350.00", "USD"),
                                                   ("FEC-9", "FR01", "C1", "120.00", "EUR")):
        book.execute("INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, "
                     "paid_on, status, source_system, source_id) VALUES (:e, :p, 'erp', :c, "
                     "CAST(:a AS DECIMAL(18,2)), 0, :cur, DATE '2024-03-10', 'succeeded', 'test', :p)",
                     {"e": entity, "p": pid, "c": customer, "a": amount, "cur": currency})
    book.execute("INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, currency, rule, "
                 "confidence, state) VALUES ('US01', 'M9', 'NS-2', 'U-I1', 300.00, 'USD', 'erp_lettrage', 1, 'auto')")
    build_marts(book, as_of=date(2024, 3, 15))
    got = {(r["entity"], r["customer_id"]): r["amount_unapplied"] for r in rows(
        book, "SELECT entity, customer_id, amount_unapplied FROM mart_unapplied_cash WHERE entity = 'US01'")}
    assert got == {("US01", "U1"): D("500"), ("US01", "U2"): D("50")}
    assert fr01_c1() == before


def test_an_erp_receipt_just_before_the_data_begin_whose_bank_credit_follows_is_not_counted_twice(
        book: Engine) -> None:
    """FR01's bank and provider data begin on day D. Two ERP receipts booked two days before it: one whose bank
    credit of the same amount follows on D+1 (that credit is the money, 16_erp_settled leaves it to the bank line),
    one no credit follows (the ERP is the only evidence: the customer's credit)."""
    from datetime import timedelta

    since = rows(book, "SELECT min(paid_on) AS d FROM fct_payment WHERE entity = 'FR01' AND channel <> 'erp'")[0]["d"]

    def c3() -> Any:
        got = rows(book, "SELECT amount_unapplied FROM mart_unapplied_cash WHERE entity = 'FR01' AND customer_id = 'C3'")
        return got[0]["amount_unapplied"] if got else D("0")

    build_marts(book, as_of=date(2024, 3, 15))
    before = c3()
    for pid, channel, amount, day in (("FEC-7", "erp", "777.00", since - timedelta(days=2)),
                                      ("B-7", "bank_transfer", "777.00", since + timedelta(days=1)),
                                      ("FEC-8", "erp", "888.00", since - timedelta(days=2))):
        book.execute("INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, "
                     "paid_on, status, source_system, source_id) VALUES ('FR01', :p, :ch, 'C3', "
                     "CAST(:a AS DECIMAL(18,2)), 0, 'EUR', :d, 'succeeded', 'test', :p)",
                     {"p": pid, "ch": channel, "a": amount, "d": day})
    build_marts(book, as_of=date(2024, 3, 15))
    assert c3() == before + D("777") + D("888")  # B-7 unapplied and FEC-8 ERP-only; FEC-7 is B-7's money


def test_marts_as_of_a_past_date(book: Engine) -> None:
    build_marts(book, as_of=date(2024, 2, 29))
    got = {(r["customer_id"], r["bucket"]): r["amount_open"] for r in rows(
        book, "SELECT customer_id, bucket, amount_open FROM mart_aged_balance")}
    # I2 was still open (due 28 Feb: 1 day late); I9 open, not yet due; I10 not issued yet.
    assert got == {("C1", "not_due"): D("300"), ("C1", "1_30"): D("400"), ("C2", "not_due"): D("1100"),
                   ("C2", "1_30"): D("-100"), ("C2", "31_60"): D("1200"), ("C3", "over_90"): D("250")}
    total = rows(book, "SELECT sum(amount_open) AS t FROM mart_open_receivables")[0]["t"]
    assert total == D("3150")  # the DSO receivables at that month end
    beh = {r["customer_id"]: r["paid_invoices"] for r in rows(book, "SELECT * FROM mart_customer_payment_behaviour")}
    assert beh == {"C1": 1, "C2": 0, "C3": 1}  # I2 was paid on 5 March


def test_checks_pass_on_the_book(book: Engine) -> None:
    assert [str(f) for f in run_checks(book)] == []


def test_checks_catch_a_broken_mart(book: Engine) -> None:
    book.execute("UPDATE mart_aged_balance SET amount_open = amount_open + 1 WHERE customer_id = 'C3'")
    book.execute("INSERT INTO fct_match (entity, match_id, state) VALUES ('FR01', 'M1', 'bogus')")
    checks = {(f.check, f.table) for f in run_checks(book)}
    assert ("aged_balance_sums_to_open_receivables", "mart_aged_balance") in checks
    assert ("unique_key", "fct_match") in checks
    assert ("accepted_values_state", "fct_match") in checks
