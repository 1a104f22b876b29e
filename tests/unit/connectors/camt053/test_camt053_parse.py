"""camt.053 parsing: golden samples, versions, batches, counterparty side, references, rejection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors._files import Quarantine
from connectors.camt053.parse import detect_version, identify, iter_entries
from lettrage.errors import WrongFormat
from tests.fixtures import camt053_v02 as v02
from tests.fixtures.golden import FIXTURES, assert_golden, samples

CAMT = FIXTURES / "camt053"


def parse_sample(path: Path) -> dict[str, Any]:
    quarantine = Quarantine("camt053", "FR01", path.name)
    try:
        rows = [r for t in iter_entries(path, file_hash="h", quarantine=quarantine, entity_for_iban=lambda _: "FR01")
                for r in t.to_pylist()]
    except WrongFormat as exc:
        return {"error": str(exc).replace(str(path), path.name)}
    return {"rows": rows, "quarantine": quarantine.to_table().to_pylist()}


@pytest.mark.parametrize("sample", samples("camt053", ".xml"), ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    assert_golden(sample, parse_sample(sample))


def _doc(version: str, entry: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"><BkToCstmrStmt>
<GrpHdr><MsgId>M</MsgId><CreDtTm>2025-01-01T00:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></Acct>{entry}</Stmt>
</BkToCstmrStmt></Document>"""


def _rows(tmp_path: Path, version: str, entry: str) -> tuple[list[dict[str, Any]], Quarantine]:
    path = tmp_path / "s.xml"
    path.write_text(_doc(version, entry), encoding="utf-8")
    q = Quarantine("camt053", "FR01", path.name)
    rows = [r for t in iter_entries(path, file_hash="h", quarantine=q, entity_for_iban=lambda _: "FR01")
            for r in t.to_pylist()]
    return rows, q


PARTY_V02 = "<RltdPties><Dbtr><Nm>PAYER</Nm></Dbtr><DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>" \
            "<Cdtr><Nm>PAYEE</Nm></Cdtr><CdtrAcct><Id><IBAN>FR7630001007941234567890185</IBAN></Id></CdtrAcct></RltdPties>"
PARTY_V08 = PARTY_V02.replace("<Nm>PAYER</Nm>", "<Pty><Nm>PAYER</Nm></Pty>").replace("<Nm>PAYEE</Nm>", "<Pty><Nm>PAYEE</Nm></Pty>")


def _entry(indicator: str = "CRDT", sts: str = "<Sts><Cd>BOOK</Cd></Sts>", tx: str = "", ref: str = "R1",
           amount: str = '<Amt Ccy="EUR">10.00</Amt>') -> str:
    details = f"<NtryDtls>{tx}</NtryDtls>" if tx else ""
    return (f"<Ntry>{amount}<CdtDbtInd>{indicator}</CdtDbtInd>{sts}<BookgDt><Dt>2025-01-02</Dt></BookgDt>"
            f"<ValDt><Dt>2025-01-03</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>{details}</Ntry>")


@pytest.mark.parametrize(
    ("version", "sts", "party"),
    [("02", "<Sts>BOOK</Sts>", PARTY_V02), ("04", "<Sts>BOOK</Sts>", PARTY_V02),
     ("06", "<Sts><Cd>BOOK</Cd></Sts>", PARTY_V02), ("08", "<Sts><Cd>BOOK</Cd></Sts>", PARTY_V08),
     ("13", "<Sts><Cd>BOOK</Cd></Sts>", PARTY_V08)],
    ids=["v02", "v04", "v06", "v08", "v13"],
)
def test_versions_read_alike(tmp_path: Path, version: str, sts: str, party: str) -> None:
    rows, q = _rows(tmp_path, version, _entry(sts=sts, tx=f"<TxDtls>{party}</TxDtls>"))
    assert not q.rows
    row = rows[0]
    assert (row["status"], row["counterparty_name"], row["counterparty_iban"], row["camt_version"]) == (
        "BOOK", "PAYER", "DE02120300000000202051", f"001.{version}")
    assert str(row["booking_date"]) == "2025-01-02" and str(row["value_date"]) == "2025-01-03"


@pytest.mark.parametrize(("indicator", "name", "amount"), [("CRDT", "PAYER", "10.00"), ("DBIT", "PAYEE", "-10.00")],
                         ids=["credit-counterparty-is-debtor", "debit-counterparty-is-creditor"])
def test_counterparty_depends_on_direction(tmp_path: Path, indicator: str, name: str, amount: str) -> None:
    rows, _ = _rows(tmp_path, "08", _entry(indicator=indicator, tx=f"<TxDtls>{PARTY_V08}</TxDtls>"))
    assert rows[0]["counterparty_name"] == name and str(rows[0]["amount"]) == amount


def _code(family: str, sub: str) -> str:
    return f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"


@pytest.mark.parametrize(
    ("indicator", "family", "sub", "name", "iban"),
    [("DBIT", "IDDT", "UPDD", "PAYER", "DE02120300000000202051"),
     ("CRDT", "IDDT", "ESDD", "PAYER", "DE02120300000000202051"),
     ("DBIT", "RDDT", "ESDD", "PAYEE", "FR7630001007941234567890185"),
     ("CRDT", "ICDT", "RRTN", "PAYEE", "FR7630001007941234567890185"),
     ("DBIT", "RCDT", "RRTN", "PAYER", "DE02120300000000202051"),
     ("DBIT", "XXXX", "OTHR", "PAYEE", "FR7630001007941234567890185")],
    ids=["returned-collection-is-the-customer", "collection", "direct-debit-taken-from-us",
         "returned-transfer-we-sent", "transfer-we-received-sent-back", "unknown-family-by-direction"],
)
def test_counterparty_follows_the_transaction_family(tmp_path: Path, indicator: str, family: str, sub: str,
                                                     name: str, iban: str) -> None:
    """A return keeps the original payment's roles: a returned SEPA direct debit we collected (a debit,
    PMNT/IDDT/UPDD) names the customer as Dbtr and us as Cdtr; the counterparty is the customer."""
    rows, _ = _rows(tmp_path, "02", _entry(indicator=indicator,
                                           tx=f"<TxDtls>{PARTY_V02}{_code(family, sub)}"
                                              "<RtrInf><Rsn><Cd>AM04</Cd></Rsn></RtrInf></TxDtls>"))
    assert (rows[0]["counterparty_name"], rows[0]["counterparty_iban"]) == (name, iban)


@pytest.mark.parametrize(
    ("tx", "field", "expected"),
    [
        ("<Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>", "end_to_end_id", None),
        ("<Refs><EndToEndId>E2E-1</EndToEndId></Refs>", "end_to_end_id", "E2E-1"),
        ("<RmtInf><Ustrd>FA-1</Ustrd><Ustrd>FA-2</Ustrd></RmtInf>", "remittance_unstructured", "FA-1 FA-2"),
        ("<RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>",
         "creditor_reference", "RF18539007547034"),
        ("<RmtInf><Strd><RfrdDocInf><Nb>FA-2024-00123</Nb></RfrdDocInf></Strd>"
         "<Strd><RfrdDocInf><Nb>FA-2024-00124</Nb></RfrdDocInf></Strd></RmtInf>",
         "referred_documents", "FA-2024-00123 FA-2024-00124"),
        ("<RmtInf><Ustrd>merci</Ustrd></RmtInf>", "referred_documents", None),
        ("<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>", "return_reason", "AC04"),
        # lines cut at a fixed width (35 characters) in the middle of a number: rejoined apart
        ("<RmtInf><Ustrd>ZAHLUNG FUER BESTELLUNG 7 RE-NR 900</Ustrd><Ustrd>01334 VIELEN DANK</Ustrd></RmtInf>",
         "remittance_rejoined", "90001334"),
        ("<RmtInf><Ustrd>ZAHLUNG FUER BESTELLUNG 7 RE-NR 900</Ustrd><Ustrd>01334 VIELEN DANK</Ustrd></RmtInf>",
         "remittance_unstructured", "ZAHLUNG FUER BESTELLUNG 7 RE-NR 900 01334 VIELEN DANK"),
        ("<RmtInf><Ustrd>RE 4711</Ustrd><Ustrd>4712</Ustrd></RmtInf>", "remittance_rejoined", None),  # not full width
        # a 27-character line cut beside the number's dash, either side of it
        ("<RmtInf><Ustrd>VIREMENT SEPA REGLEMT FA-26</Ustrd><Ustrd>-04026 MERCI</Ustrd></RmtInf>",
         "remittance_rejoined", "FA-26-04026"),
        ("<RmtInf><Ustrd>VIREMENT SEPA REGLMT FA-26-</Ustrd><Ustrd>04025 MERCI</Ustrd></RmtInf>",
         "remittance_rejoined", "FA-26-04025"),
        ("<RmtInf><Ustrd>VIREMENT SEPA REGLT FACT. -</Ustrd><Ustrd>- MERCI</Ustrd></RmtInf>",
         "remittance_rejoined", None),  # (two separators make no word)
        ("<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>",
         "bank_tx_code", "PMNT/RCDT/ESCT"),
    ],
    ids=["e2e-notprovided", "e2e", "ustrd-joined", "structured-ref", "referred-documents", "no-referred-documents",
         "return-reason", "cut-line-rejoined", "cut-line-as-written", "short-line-not-rejoined", "cut-before-dash",
         "cut-after-dash", "cut-between-separators", "tx-level-bank-code"],
)
def test_transaction_fields(tmp_path: Path, tx: str, field: str, expected: str | None) -> None:
    rows, _ = _rows(tmp_path, "08", _entry(tx=f"<TxDtls>{tx}</TxDtls>"))
    assert rows[0][field] == expected


FX_TX = ('<TxDtls><AmtDtls><InstdAmt><Amt Ccy="USD">1000.00</Amt><CcyXchg><SrcCcy>USD</SrcCcy>'
         '<TrgtCcy>EUR</TrgtCcy><UnitCcy>USD</UnitCcy><XchgRate>0.9214</XchgRate></CcyXchg></InstdAmt>'
         '<TxAmt><Amt Ccy="EUR">921.40</Amt></TxAmt></AmtDtls></TxDtls>')


def test_a_payment_in_another_currency_keeps_what_the_payer_instructed(tmp_path: Path) -> None:
    """A customer paying a USD invoice into a EUR account: the line is booked in EUR, the USD amount of
    the invoice is kept beside it with the bank's rate (AmtDtls/InstdAmt, CcyXchg)."""
    rows, q = _rows(tmp_path, "08", _entry(tx=FX_TX, amount='<Amt Ccy="EUR">921.40</Amt>')
                    + _entry(ref="R2", tx="<TxDtls><RmtInf><Ustrd>FA-1</Ustrd></RmtInf></TxDtls>"))
    assert not q.rows
    fx, plain = rows
    assert (str(fx["amount"]), fx["currency"], str(fx["instructed_amount"]), fx["instructed_currency"],
            fx["exchange_rate"]) == ("921.40", "EUR", "1000.00", "USD", "0.9214")
    assert (plain["instructed_amount"], plain["instructed_currency"], plain["exchange_rate"]) == (None, None, None)


def test_an_entry_level_instructed_amount_is_its_transactions(tmp_path: Path) -> None:
    """camt.053.001.08 lets a bank write AmtDtls on the entry rather than in TxDtls: an entry of one transaction
    carries the payer's instructed amount there (it was not read, and a payment short by its charges stayed
    partially paid); in TxDtls it is read as before."""
    amount_details = FX_TX.removeprefix("<TxDtls>").removesuffix("</TxDtls>")  # (<AmtDtls>...</AmtDtls>)
    at_entry = _entry(tx="<TxDtls><RmtInf><Ustrd>FA-1</Ustrd></RmtInf></TxDtls>", amount='<Amt Ccy="EUR">921.40</Amt>')
    rows, q = _rows(tmp_path, "08", at_entry.replace("<CdtDbtInd>", amount_details + "<CdtDbtInd>", 1))
    assert not q.rows
    assert (str(rows[0]["instructed_amount"]), rows[0]["instructed_currency"], rows[0]["exchange_rate"]) == (
        "1000.00", "USD", "0.9214")


def test_a_pending_entry_never_takes_the_booked_ones_place(tmp_path: Path) -> None:
    """A pending entry is a line of its own (``~PDNG``, left out of the bank lines by staging): a copy of an older
    statement listing it pending, loaded after the one that booked it, had replaced the booked line."""
    rows, _ = _rows(tmp_path, "08", _entry(sts="<Sts><Cd>PDNG</Cd></Sts>") + _entry(ref="R2")
                    + _entry(ref="R3", sts="<Sts><Cd>INFO</Cd></Sts>"))
    assert [(r["bank_line_id"], r["status"]) for r in rows] == [("R1~PDNG", "PDNG"), ("R2", "BOOK"),
                                                                ("R3~INFO", "INFO")]


def test_the_counterparty_is_never_the_statements_own_account(tmp_path: Path) -> None:
    """A returned collection coded as a direct debit we paid (PMNT/RDDT/UPDD, where IDDT/UPDD is ours): by its family
    the creditor is the counterparty, and the creditor is us; the debtor, the customer, is the counterparty then (the
    return was paired with no collection)."""
    parties = ("<RltdPties><Dbtr><Nm>ACME SAS</Nm></Dbtr><DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id>"
               "</DbtrAcct><Cdtr><Nm>US</Nm></Cdtr><CdtrAcct><Id><IBAN>FR76 3000 6000 0112 3456 7890 189</IBAN>"
               "</Id></CdtrAcct></RltdPties>")
    rows, _ = _rows(tmp_path, "02", _entry(indicator="DBIT", sts="<Sts>BOOK</Sts>",
                                           tx=f"<TxDtls>{_code('RDDT', 'UPDD')}{parties}</TxDtls>"))
    assert (rows[0]["counterparty_name"], rows[0]["counterparty_iban"]) == ("ACME SAS", "DE02120300000000202051")


def test_nonref_is_no_reference(tmp_path: Path) -> None:
    """"NONREF" (SWIFT's "no reference") in AcctSvcrRef: each entry is keyed by its place in its statement; as a
    reference it made the entries of three statements one bank line."""
    rows, _ = _rows(tmp_path, "08", _entry(ref="NONREF") + _entry(ref="nonref") + _entry(ref="R3"))
    assert [r["bank_line_id"] for r in rows] == ["S1/00001", "S1/00002", "R3"]


def test_an_unreadable_instructed_amount_quarantines_its_entry(tmp_path: Path) -> None:
    rows, q = _rows(tmp_path, "08", _entry(tx=FX_TX.replace('Ccy="USD"', 'Ccy="US$"'))
                    + _entry(ref="GOOD", tx=FX_TX))
    assert [r["bank_line_id"] for r in rows] == ["GOOD"]
    assert len(q.rows) == 1 and "instructed amount" in q.rows[0][2] and q.rows[0][1] == "AmtDtls/InstdAmt/Amt"


def test_batch_entry_gives_one_row_per_transaction(tmp_path: Path) -> None:
    txs = "".join(f'<TxDtls><Amt Ccy="EUR">{a}</Amt><RmtInf><Ustrd>FA-{i}</Ustrd></RmtInf></TxDtls>'
                  for i, a in enumerate(["3.00", "7.00"], start=1))
    rows, _ = _rows(tmp_path, "08", _entry(tx=txs, ref="B9"))
    assert [(r["bank_line_id"], str(r["amount"]), r["batch_size"], r["remittance_unstructured"]) for r in rows] == [
        ("B9/1", "3.00", 2, "FA-1"), ("B9/2", "7.00", 2, "FA-2")]


def test_entry_without_acctsvcrref_gets_statement_sequence(tmp_path: Path) -> None:
    rows, _ = _rows(tmp_path, "08", _entry().replace("<AcctSvcrRef>R1</AcctSvcrRef>", "") * 2)
    assert [r["bank_line_id"] for r in rows] == ["S1/00001", "S1/00002"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [(_entry(amount='<Amt Ccy="ABC">1.00</Amt>'), "unknown currency"),
     (_entry(amount='<Amt Ccy="EUR">1,00</Amt>'), "not an ISO 20022 amount"),
     # (valid against the schema, up to 5 decimals: it had failed the whole source converting the batch to cents)
     (_entry(amount='<Amt Ccy="EUR">100.005</Amt>'), "more decimals than EUR has (2)"),
     (_entry(amount='<Amt Ccy="EUR">1.2E3</Amt>'), "not an ISO 20022 amount"),
     (_entry(amount='<Amt Ccy="EUR">-50.00</Amt>'), "never a sign"),
     (_entry(amount='<Amt Ccy="EUR">NaN</Amt>'), "not an ISO 20022 amount"),
     (_entry(indicator="XXXX"), "CdtDbtInd must be CRDT or DBIT"),
     (_entry().replace("2025-01-02", "2025-02-30"), "bad date")],
    ids=["unknown-currency", "bad-amount", "sub-cent", "exponent", "negative", "nan", "bad-indicator", "bad-date"],
)
def test_bad_entry_is_quarantined_and_others_kept(tmp_path: Path, entry: str, reason: str) -> None:
    rows, q = _rows(tmp_path, "08", entry + _entry(ref="GOOD"))
    assert [r["bank_line_id"] for r in rows] == ["GOOD"]
    assert len(q.rows) == 1 and reason in q.rows[0][2] and "<Ntry" in (q.rows[0][3] or "")


@pytest.mark.parametrize(
    ("content", "found"),
    [('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"/>', "camt.054.001.08"),
     ('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.01"/>', "camt.053.001.01"),
     ("<html><body/></html>", "'html'"), ("not xml at all", "not well-formed XML")],
    ids=["camt054", "camt053-v01", "html", "not-xml"],
)
def test_wrong_format_is_rejected(tmp_path: Path, content: str, found: str) -> None:
    path = tmp_path / "x.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(WrongFormat) as info:
        detect_version(path)
    assert "camt.053 statement" in str(info.value) and found in str(info.value)
    assert not identify(path)


# --- a reference the bank reuses within a statement; an entry without a booking date -------------------------
# (statements written with tests/fixtures/camt053_v02.py, checked against the official camt.053.001.02 XSD)


def _parse(path: Path) -> tuple[list[dict[str, Any]], Quarantine]:
    q = Quarantine("camt053", "FR01", path.name)
    rows = [r for t in iter_entries(path, file_hash="h", quarantine=q, entity_for_iban=lambda _: "FR01")
            for r in t.to_pylist()]
    return rows, q


REUSED = [v02.entry("2025111100001", "1200.00", "ALPHA SA", "FA-2025-000101"),
          v02.entry("2025111100002", "50.00", "BANQUE", "FRAIS", indicator="DBIT"),
          v02.entry("2025111100003", "3634.75", "PAYER A SARL", "FA-2025-000117"),
          v02.entry("2025111100003", "9113.41", "PAYER B GMBH", "FA-2025-000121")]


def test_a_reference_reused_within_a_statement_keeps_both_entries(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Reference 2025111100003 given to two credits of one statement: both are bank lines, the second with
    ``#2``; a reference the statement uses once keeps its bare id. The reuse is logged with file and lines."""
    xml = v02.statement(REUSED)
    path = v02.write_statement(tmp_path / "stmt.xml", xml)
    with caplog.at_level("WARNING", logger="lettrage.connectors.camt053"):
        rows, q = _parse(path)
    assert not q.rows
    assert [(r["bank_line_id"], str(r["amount"]), r["counterparty_name"]) for r in rows] == [
        ("2025111100001", "1200.00", "ALPHA SA"), ("2025111100002", "-50.00", "BANQUE"),
        ("2025111100003", "3634.75", "PAYER A SARL"), ("2025111100003#2", "9113.41", "PAYER B GMBH")]
    lines = (v02.entry_line(xml, "3634.75"), v02.entry_line(xml, "9113.41"))
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "stmt.xml" in warned and "2025111100003" in warned and "2025111100003#2" in warned
    assert all(str(line) in warned for line in lines)


def test_reused_reference_ids_are_stable_on_redelivery(tmp_path: Path) -> None:
    """The same statement re-sent (a later CreDtTm, a remittance completed) gives the same ids, so the
    merge updates the two lines instead of adding two more."""
    first = v02.write_statement(tmp_path / "a.xml", v02.statement(REUSED))
    again = v02.write_statement(tmp_path / "b.xml", v02.statement(
        [e.replace("FA-2025-000121", "FA-2025-000121 FA-2025-000122") for e in REUSED], created="2025-11-12T09:30:00"))
    assert [r["bank_line_id"] for r in _parse(first)[0]] == [r["bank_line_id"] for r in _parse(again)[0]]


def test_a_third_use_and_a_reused_batch_reference(tmp_path: Path) -> None:
    batch = ('<Ntry><Amt Ccy="EUR">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
             "<BookgDt><Dt>2025-11-11</Dt></BookgDt><AcctSvcrRef>R</AcctSvcrRef>" + v02.CREDIT_CODE +
             '<NtryDtls><TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt></AmtDtls></TxDtls>'
             '<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls></Ntry>')
    path = v02.write_statement(tmp_path / "s.xml", v02.statement(
        [v02.entry("R", "1.00"), batch, v02.entry("R", "3.00")]))
    assert [r["bank_line_id"] for r in _parse(path)[0]] == ["R", "R#2/1", "R#2/2", "R#3"]


def test_a_quarantined_entry_still_takes_its_place_in_the_numbering(tmp_path: Path) -> None:
    """Ids follow the entries' order in the statement, read or not: once the bank corrects the first
    entry, the second keeps ``#2`` and the corrected one takes the bare reference."""
    bad = v02.entry("R", "1.00").replace('Ccy="EUR"', 'Ccy="EUX"', 1)
    path = v02.write_statement(tmp_path / "s.xml", v02.statement([bad, v02.entry("R", "2.00")]))
    rows, q = _parse(path)
    assert [r["bank_line_id"] for r in rows] == ["R#2"] and len(q.rows) == 1


def test_the_same_reference_in_two_statements_is_one_entry(tmp_path: Path) -> None:
    """Two statements of the account (an intraday one, then the day's) both list entry 2025111100001:
    the reference is used once per statement, so both give the bare id and the merge keeps one line."""
    xml = v02.document([
        v02.statement_element([v02.entry("2025111100001", "1200.00")], "STMT-INTRADAY", "2025-11-11T12:00:00"),
        v02.statement_element([v02.entry("2025111100001", "1200.00"), v02.entry("2025111100002", "80.00")],
                              "STMT-EOD", "2025-11-12T06:00:00")])
    rows, q = _parse(v02.write_statement(tmp_path / "s.xml", xml))
    assert not q.rows
    assert [(r["statement_id"], r["bank_line_id"]) for r in rows] == [
        ("STMT-INTRADAY", "2025111100001"), ("STMT-EOD", "2025111100001"), ("STMT-EOD", "2025111100002")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<Dt>2025-11-10</Dt>", "2025-11-10"), ("<DtTm>2025-11-10T16:45:00+01:00</DtTm>", "2025-11-10")],
    ids=["ValDt-Dt", "ValDt-DtTm"],
)
def test_an_entry_without_booking_date_is_booked_on_its_value_date(tmp_path: Path, value: str,
                                                                   expected: str) -> None:
    """BookgDt is optional in camt.053.001.02: the value date stands in, so the payment has a date."""
    path = v02.write_statement(tmp_path / "s.xml", v02.statement([v02.entry("R1", "10.00", booked=None, value=value)]))
    rows, q = _parse(path)
    assert not q.rows
    assert (str(rows[0]["booking_date"]), str(rows[0]["value_date"])) == (expected, expected)


def test_an_entry_without_any_date_is_quarantined_and_the_rest_loads(tmp_path: Path) -> None:
    xml = v02.statement([v02.entry("NODATE", "10.00", booked=None, value=None), v02.entry("GOOD", "20.00")])
    rows, q = _parse(v02.write_statement(tmp_path / "s.xml", xml))
    assert [r["bank_line_id"] for r in rows] == ["GOOD"]
    assert len(q.rows) == 1
    line, field, reason, raw = q.rows[0]
    assert (line, field) == (v02.entry_line(xml, "NODATE"), "BookgDt")
    assert "NODATE" in reason and "BookgDt" in reason and "ValDt" in reason and "<Ntry" in (raw or "")


def test_a_bad_value_date_names_its_field(tmp_path: Path) -> None:
    """The XSD refuses 30 February, so the valid statement is written first, then broken the way a bank's bug would."""
    xml = v02.statement([v02.entry("BADVAL", "10.00", value="<Dt>2025-02-28</Dt>")])
    path = v02.write_statement(tmp_path / "s.xml", xml)
    path.write_text(xml.replace("<ValDt><Dt>2025-02-28</Dt>", "<ValDt><Dt>2025-02-30</Dt>"), encoding="utf-8")
    rows, q = _parse(path)
    assert rows == [] and [(r[1], "bad date" in r[2]) for r in q.rows] == [("ValDt", True)]


def test_a_reversed_entry_is_a_return_and_the_ultimate_debtor_names_the_payer(tmp_path: Path) -> None:
    """``RvslInd`` true: the bank took back an earlier credit; its row carries the return reason RVSL, so the
    warehouse pairs it with the credit it reverses. A payment a holding made for a group company
    (``UltmtDbtr``) is named after the company it is for; its account stays the holding's."""
    reversal = v02.entry("R2", "3063.66", "ACME SA", "RE FA-2026-00140", indicator="DBIT").replace(
        "</CdtDbtInd>", "</CdtDbtInd><RvslInd>true</RvslInd>")
    for_company = v02.entry("R3", "4006.93", "HOLDING FINANCIERE", "VIR").replace(
        "<Dbtr><Nm>HOLDING FINANCIERE</Nm></Dbtr>",
        "<Dbtr><Nm>HOLDING FINANCIERE</Nm></Dbtr><DbtrAcct><Id><IBAN>FR7611111111111111111111111</IBAN></Id>"
        "</DbtrAcct><UltmtDbtr><Nm>BRASSERIE CHEVALIER</Nm></UltmtDbtr>")
    path = v02.write_statement(tmp_path / "s.xml", v02.statement([v02.entry("R1", "3063.66", "ACME SA",
                                                                            "RE FA-2026-00140"), reversal, for_company]))
    rows, q = _parse(path)
    assert not q.rows
    assert [(r["bank_line_id"], r["return_reason"]) for r in rows] == [("R1", None), ("R2", "RVSL"), ("R3", None)]
    assert (rows[2]["counterparty_name"], rows[2]["counterparty_iban"]) == ("BRASSERIE CHEVALIER",
                                                                            "FR7611111111111111111111111")
