"""Nordic payment references: an invoice number with a check digit appended, on DuckDB and Postgres.

Finnish giro slips print the reference number (viitenumero: 7-3-1 check digit), Norwegian ones a KID
and Swedish ones an OCR number (Luhn, sometimes with a length digit); an RF creditor reference wraps the
Finnish one. Payers quote these, never the bare invoice number: each is an alias of its invoice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile
from warehouse.reconcile.references import check_digit_references

from .raw_book import BANK, load_raw_book

AS_OF = date(2025, 3, 1)


def doc_of(numbers: list[tuple[str, str]], number: str) -> str:
    return next(d for d, n in numbers if n == number)
IBAN = "FI2112345600000785"


def finnish(base: str) -> str:
    total = sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(reversed(base)))
    return base + str((10 - total % 10) % 10)


def luhn(base: str) -> str:
    total = 0
    for i, d in enumerate(reversed(base)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return base + str((10 - total % 10) % 10)


def creditor_reference(ref: str) -> str:
    """ISO 11649: RF, two check digits (98 - mod 97 of ref + 'RF00', letters as numbers), the reference."""
    digits = "".join(str(int(c, 36)) for c in ref + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{ref}"


def _item(number: str, amount: str, kind: str = "DR") -> dict[str, Any]:
    return {
        "entity": "DE01", "company_code": "DE01", "customer": "K100", "document_number": number,
        "fiscal_year": "2025", "line_item": "001", "document_type": kind, "document_date": date(2025, 1, 15),
        "posting_date": date(2025, 1, 15), "baseline_date": date(2025, 1, 15), "terms_days_1": 30,
        "terms_days_2": None, "terms_days_3": None, "net_due_date": date(2025, 2, 14), "currency": "EUR",
        "amount": Decimal(amount), "amount_local": Decimal(amount), "debit_credit": "S", "reference": "",
        "assignment": "", "clearing_document": "", "clearing_date": None, "text": "", "source_file": "FBL5N.txt",
        "line_no": 2, "file_hash": "h",
    }


def _credit(line_id: str, amount: str, *, ustrd: str | None = None, scor: str | None = None) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "entity": "DE01", "amount": Decimal(amount),
            "counterparty_name": "NORDHAVN SUOMI OY", "counterparty_iban": IBAN,
            "remittance_unstructured": ustrd, "creditor_reference": scor}


def test_nordic_references_name_their_invoices(warehouse_config: WarehouseConfig) -> None:
    assert finnish("123") == "1232" and luhn("7992739871") == "79927398713"  # the schemes' textbook examples
    assert check_digit_references("9001000426")[1:] == (luhn("9001000426"), luhn("9001000426" + "2"))
    load_raw_book(warehouse_config, more_bank_lines=(
        _credit("KID", "250.00", scor=luhn("9001000035")),                            # Norwegian KID
        _credit("OCR", "400.00", scor=luhn("9001000426" + "2")),                      # Swedish OCR, length digit
        _credit("VIITE", "120.00", ustrd="Viite 9 00100 03670"),                     # Finnish, groups of five
        _credit("RF", "75.00", scor=creditor_reference(finnish("9001000401"))),      # RF around a Finnish one
        _credit("PADDED", "60.00", scor=finnish("9001000500").zfill(20)),            # zero padded to 20 digits
        _credit("PART", "100.00", ustrd=f"KID: {luhn('9001000600')}"),               # a partial payment
    ))
    # a credit note of 9001000367 whose assignment names the invoice it credits (its references stay the invoice's)
    credit_note = {**_item("9002000007", "-10.00", kind="DG"), "debit_credit": "H", "assignment": "9001000367"}
    items = [_item("9001000035", "250.00"), _item("9001000426", "400.00"), _item("9001000367", "120.00"),
             _item("9001000401", "75.00"), _item("9001000500", "60.00"), _item("9001000600", "300.00"), credit_note]
    customers = [{"entity": "DE01", "customer": "K100", "name": "Nordhavn Suomi Oy", "email": None, "vat_id": None,
                  "payment_terms_days": 30, "iban": IBAN, "credit_limit": None, "country": "FI",
                  "account_owner": None, "source_file": "customers.csv", "line_no": 2}]
    nulls = {c: {"data_type": "bigint"} for c in ("terms_days_2", "terms_days_3")} | {
        "clearing_date": {"data_type": "date"}}
    run_pipeline("test_nordic_sap", [
        dlt.resource(items, name="raw_sap_export_items", write_disposition="replace", columns=nulls),
        dlt.resource(customers, name="raw_sap_export_customers", write_disposition="replace",
                     columns={c: {"data_type": "text"} for c in ("email", "vat_id", "account_owner")}
                     | {"credit_limit": {"data_type": "decimal"}}),
    ], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        pairs = {(r[0], r[1], r[2], r[3]) for r in engine.query(
            "SELECT payment_id, invoice_id, amount_applied, state FROM fct_match WHERE entity = 'DE01'")}
        rules = {r[0] for r in engine.query("SELECT DISTINCT rule FROM fct_match WHERE entity = 'DE01'")}
        aliases = set(engine.query("SELECT invoice_id, alias FROM int_invoice_aliases WHERE entity = 'DE01'"))
        numbers = engine.query("SELECT invoice_id, invoice_number FROM int_invoices WHERE entity = 'DE01'")
        open_part = engine.query("SELECT amount_open FROM fct_invoice WHERE invoice_id LIKE '%9001000600%'")

    def doc(number: str) -> str:
        return next(p[1] for p in pairs if number in p[1])

    assert {(p, d, a, s) for p, d, a, s in pairs} == {
        ("KID", doc("9001000035"), Decimal("250.00"), "auto"), ("OCR", doc("9001000426"), Decimal("400.00"), "auto"),
        ("VIITE", doc("9001000367"), Decimal("120.00"), "auto"), ("RF", doc("9001000401"), Decimal("75.00"), "auto"),
        ("PADDED", doc("9001000500"), Decimal("60.00"), "auto"), ("PART", doc("9001000600"), Decimal("100.00"), "auto"),
    }
    assert open_part == [(Decimal("200.00"),)]
    assert rules == {"alias_reference"}  # read as the invoice's reference, not one typo or an amount away
    # the SQL of int_invoice_aliases computes what references.check_digit_references says, on either engine
    # the credit note keeps the number its assignment gives, not that number's references
    cn = doc_of(numbers, "9002000007")
    assert aliases == {(d, ref) for d, number in numbers for ref in check_digit_references(number)} | {
        (cn, "9001000367")}
