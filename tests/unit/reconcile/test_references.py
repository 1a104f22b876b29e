"""Reference normalisation: the Python keys, and the SQL keys held equal to them."""

from __future__ import annotations

import duckdb
import pytest

from mappings.matching import load_matching_rules
from warehouse import sql as sqlmod
from warehouse.reconcile.references import (
    EXACT,
    GROUPS,
    NORMALIZED,
    TAIL,
    invoice_keys,
    normalized,
    sql_key_macros,
    token_keys,
    tokens,
)

PREFIXES = load_matching_rules().reference.prefixes
TAGS = load_matching_rules().reference.remittance_tags


@pytest.mark.parametrize(("text", "expected"), [
    ("Facture N° FA-2024-00123.", ["FA-2024-00123"]),
    ("INV 2024/123, INV 2024/124", ["2024/123", "2024/124"]),
    ("Rechnung Nr. 4711 vom 12.03.2024", ["4711", "12.03.2024"]),
    ("no digits here", []),
    (None, []),
], ids=["french-remittance", "list", "german-with-date", "no-digits", "none"])
def test_tokens(text: str | None, expected: list[str]) -> None:
    assert tokens(text) == expected


# Remittances as banks and payers write them (SWIFT MT103 field 70, MT940 :86:, typed by hand).
REMITTANCES = [
    ("/INV/FA-2024-00123", ["FA-2024-00123"]),
    ("/RFB/FA-2024-00123/ROC/PO-4711", ["FA-2024-00123", "PO-4711"]),
    ("/REMI/USTD//FA-2024-00123/", ["FA-2024-00123"]),
    ("FACTURE 2024 00123", ["2024", "00123", "2024-00123"]),
    ("FA 2024  123 / 2025 7", ["2024", "123", "2025", "7", "2024-123", "2025-7"]),
    ("INV/2024/00123", ["INV/2024/00123"]),  # an Odoo-style number: no leading slash, not a field code
    ("Rechnung 4711 vom 12 03 2024", ["4711", "12", "03", "2024"]),  # groups not after a year stay apart
    ("Paiement 12 500,00 EUR", ["12", "500", "00"]),  # an amount with a space is not a number to join
    ("X12024 5", ["X12024", "5"]),  # 2024 inside a longer token is not a year
    ("/NAME/ACME/ 42/", ["42"]),  # a code not listed stays text (here without a digit: no token)
    ("SAMMELZAHLUNG 90001341/90001342", ["90001341/90001342", "90001341", "90001342"]),  # a list: its parts too
    ("FACT FA2024-001/FA2024-002/FA2024-003", ["FA2024-001/FA2024-002/FA2024-003", "FA2024-001", "FA2024-002",
                                               "FA2024-003"]),
    ("REF 2024/00123 DU 12/03/2024", ["2024/00123", "12/03/2024"]),  # a year and its number, a date: not lists
    # structured references printed in groups of four: also read run together
    ("BETALINGSKENMERK 1234 5678 9012 3456 BEDANKT", ["1234", "5678", "9012", "3456", "1234567890123456"]),
    ("RF18 5390 0754 7034", ["RF18", "5390", "0754", "7034", "RF18539007547034"]),
    ("FACTUUR 2024 0001 2024 0002", ["2024", "0001", "0002", "2024-0001", "2024-0002"]),  # years join first
    # a Finnish reference in groups of five from the right, as a giro slip prints it: also read run together
    ("VIITE 9 00100 03670", ["9", "00100", "03670", "90010003670"]),
    ("MAKSU 1 23456 78901 23452", ["1", "23456", "78901", "23452", "1234567890123452"]),
    ("MONTANT 12 500,00", ["12", "500", "00"]),  # an amount's thousands are groups of three: not joined
]


@pytest.mark.parametrize(("text", "expected"), REMITTANCES, ids=[t for t, _ in REMITTANCES])
def test_tokens_of_bank_remittances(text: str, expected: list[str]) -> None:
    assert tokens(text, TAGS) == expected


@pytest.mark.parametrize(("text", "expected"), REMITTANCES, ids=[t for t, _ in REMITTANCES])
def test_sql_tokens_equal_python(text: str, expected: list[str]) -> None:
    """10_inputs reads a remittance's tokens as references.tokens does (the same macros, composed as rc_tok)."""
    sql = sql_key_macros(PREFIXES, TAGS) + """
    WITH r AS (SELECT {{ strip_tags('upper(:n)') }} AS ref),
    one AS (SELECT ref, {{ regex_matches('ref', '^[A-Z0-9/._-]*[0-9][A-Z0-9/._-]*$') }} AS whole FROM r),
    spaced AS (SELECT ref, {{ join_spaced_digits('ref') }} AS joined FROM one WHERE NOT whole),
    raw AS (SELECT {{ split_tokens('ref') }} AS t FROM spaced
            UNION ALL SELECT {{ split_tokens('joined') }} AS t FROM spaced WHERE joined <> ref),
    toks AS (SELECT trim(both '/._-' from ref) AS tok FROM one WHERE whole
             UNION SELECT trim(both '/._-' from t) FROM raw WHERE {{ regex_matches('t', '[0-9]') }})
    SELECT tok FROM toks
    UNION SELECT trim(both '/._-' from {{ split_slash('tok') }}) FROM toks WHERE {{ slash_list('tok') }}"""
    rendered = sqlmod.render(sql, "duckdb").replace(":n", "$n")
    got = {r[0] for r in duckdb.connect().execute(rendered, {"n": text}).fetchall()}
    assert got == set(tokens(text, TAGS)) == set(expected)


@pytest.mark.parametrize(("payer_wrote", "invoice_number", "kind"), [
    ("FA-2024-00123", "FA-2024-00123", EXACT),
    ("fa2024-00123", "FA-2024-00123", NORMALIZED),
    ("FACTURE2024.00123", "FA-2024-00123", NORMALIZED),
    ("INV-000456", "456-X", None),
    ("2024/123", "FA-2024-00123", GROUPS),
    ("00123", "FA-2024-00123", TAIL),
    ("RF18INV20240099", "INV-2024-0099", NORMALIZED),
    ("RE 88812", "88812", EXACT),
    ("/INV/FA-2024-00123", "FA-2024-00123", EXACT),
    ("Facture 2024 00123", "FA-2024-00123", NORMALIZED),
    ("Payment for invoice 1042", "SI-1042", NORMALIZED),
    ("Factura 2024-0042", "FACTURA-2024-0042", NORMALIZED),
], ids=["exact", "case-and-separator", "prefix-glued", "different-invoice", "year-groups-unpadded",
        "year-omitted", "creditor-reference", "prefix-as-separate-word", "swift-field-code", "spaced-groups",
        "sage-accounting-number", "spanish-prefix"])
def test_strongest_common_key(payer_wrote: str, invoice_number: str, kind: int | None) -> None:
    keys_inv = invoice_keys(invoice_number, PREFIXES)
    common = [k for t in tokens(payer_wrote, TAGS) for k, v in token_keys(t, PREFIXES).items() if v == keys_inv.get(k)]
    assert min(common, default=None) == kind


@pytest.mark.parametrize(("value", "expected"), [
    ("FA-2024-00123", "202400123"), ("Rechnung 0042", "42"), ("ÉCHÉANCE-12", "ECHEANCE12"),
], ids=["prefix-zeros", "german-prefix", "accents"])
def test_normalized(value: str, expected: str) -> None:
    assert normalized(value, PREFIXES) == expected


SAMPLES = ["FA-2024-00123", "INV2024/0007", "FACTURE 000042", "RF18INV20240099", "2024-001-A", "X9", "RE-88812",
           "24-00077", "N°123456"]


@pytest.mark.parametrize("number", SAMPLES, ids=SAMPLES)
def test_sql_invoice_keys_equal_python(number: str) -> None:
    """The warehouse computes the same keys as Python (DuckDB here; Postgres in integration tests)."""
    text = sql_key_macros(PREFIXES) + """
    WITH s AS (SELECT upper(trim(:n)) AS num_u), t AS (SELECT num_u, {{ strip_prefix('num_u') }} AS stripped FROM s)
    SELECT num_u, {{ k_norm('stripped') }}, {{ k_groups('stripped') }},
           CASE WHEN {{ regex_matches('stripped', year_tail()) }} THEN {{ regex_group('stripped', year_tail(), 2) }} END
    FROM t"""
    rendered = sqlmod.render(text, "duckdb").replace(":n", "$n")
    exact, norm, groups, tail = duckdb.connect().execute(rendered, {"n": number}).fetchone()
    keys = invoice_keys(number, PREFIXES, min_len=1, min_tail=1)
    assert exact == keys[EXACT]
    assert norm == keys.get(NORMALIZED, norm)
    assert (groups if "-" in groups else None) == keys.get(GROUPS)
    assert (tail or None) == keys.get(TAIL)


@pytest.mark.parametrize("number", SAMPLES + ["FA--2024..007", "-0-", "ABC"], ids=SAMPLES + ["runs", "dashes", "letters"])
def test_sql_keys_from_one_dashed_pass_equal_the_direct_ones(number: str) -> None:
    """10_inputs derives the normalized and groups keys from one regular-expression pass (k_dashed)."""
    text = sql_key_macros(PREFIXES) + """
    WITH t AS (SELECT {{ strip_prefix('upper(trim(:n))') }} AS stripped), d AS (SELECT stripped, {{ k_dashed('stripped') }} AS dashed FROM t)
    SELECT {{ k_norm('stripped') }}, {{ k_norm_of_dashed('dashed') }}, {{ k_groups('stripped') }}, {{ k_groups_of_dashed('dashed') }}
    FROM d"""
    rendered = sqlmod.render(text, "duckdb").replace(":n", "$n")
    norm, norm_d, groups, groups_d = duckdb.connect().execute(rendered, {"n": number}).fetchone()
    assert (norm_d, groups_d) == (norm, groups)
    assert norm == normalized(number, PREFIXES)
