"""The bordereau de cession in the factor's formats, and its manifest.

Files are a pure function of the batch rows (no clock, no random): rebuilding a
batch after a crash gives byte-identical files and the same SHA-256, which is
how a re-run recognises its own earlier upload on the factor's server.

The manifest is written last and lists every data file with its size and
SHA-256; its presence on the server is the commit marker of a delivery.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree

from mappings.factoring import CsvFormat, FactorContract

XML_NS = "urn:lettrage:factoring:bordereau:1"
MANIFEST_FORMAT = "lettrage-bordereau-manifest/1"
_TOTALS = ("amount", "advance_amount", "reserve_amount", "commission", "financing_fee", "net_advance")


@dataclass(frozen=True, slots=True)
class BuiltFile:
    name: str
    format: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class BuiltBatch:
    files: tuple[BuiltFile, ...]
    manifest: BuiltFile


def _fill(pattern: str, batch: Mapping[str, Any], ext: str = "") -> str:
    as_of = batch["as_of"]
    return pattern.format(contract_id=batch["contract_id"], batch_id=batch["batch_id"], entity=batch["entity"],
                          as_of=as_of, ext=ext)


def line_values(batch: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """Every field a bordereau line can carry (mappings.factoring.LINE_FIELDS)."""
    fees = Decimal(item["commission"]) + Decimal(item["financing_fee"])
    return {
        "line_no": int(item["line_no"]), "batch_id": batch["batch_id"], "contract_id": batch["contract_id"],
        "entity": item["entity"], "invoice_id": item["invoice_id"], "invoice_number": item["invoice_number"],
        "customer_id": item["customer_id"], "customer_name": item["customer_name"],
        "customer_vat_id": item["customer_vat_id"], "customer_siren": item["customer_siren"],
        "customer_country": item["customer_country"], "issue_date": item["issue_date"],
        "due_date": item["due_date"], "currency": item["currency"], "amount": Decimal(item["amount"]),
        "advance_amount": Decimal(item["advance_amount"]), "reserve_amount": Decimal(item["reserve_amount"]),
        "commission": Decimal(item["commission"]), "financing_fee": Decimal(item["financing_fee"]),
        "net_advance": Decimal(item["advance_amount"]) - fees,
    }


def _csv_cell(value: Any, fmt: CsvFormat) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = f"{value:.2f}"
        return text.replace(".", fmt.decimal_sep)
    if isinstance(value, date):
        return value.strftime(fmt.date_format)
    return str(value)


def render_csv(batch: Mapping[str, Any], items: Sequence[Mapping[str, Any]], fmt: CsvFormat) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=fmt.delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if fmt.header:
        writer.writerow(fmt.columns)
    for item in items:
        values = line_values(batch, item)
        writer.writerow([_csv_cell(values[c], fmt) for c in fmt.columns])
    return buf.getvalue().encode(fmt.encoding)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _header(batch: Mapping[str, Any]) -> dict[str, str]:
    head = {
        "batch_id": batch["batch_id"], "contract_id": batch["contract_id"], "factor": batch["factor"],
        "entity": batch["entity"], "as_of": _text(batch["as_of"]), "currency": batch["currency"],
        "invoice_count": str(int(batch["invoice_count"])), "advance_rate": f"{Decimal(batch['advance_rate']):.4f}",
    }
    head.update({k: _text(Decimal(batch[k])) for k in _TOTALS})
    return head


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def render_xml(batch: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> bytes:
    # lxml-stubs type nsmap keys as str, but lxml takes None as the default namespace's prefix
    root = etree.Element(f"{{{XML_NS}}}Bordereau", nsmap={None: XML_NS})  # type: ignore[dict-item]
    header = etree.SubElement(root, f"{{{XML_NS}}}Header")
    for key, value in _header(batch).items():
        etree.SubElement(header, f"{{{XML_NS}}}{_camel(key)}").text = value
    invoices = etree.SubElement(root, f"{{{XML_NS}}}Invoices")
    for item in items:
        values = line_values(batch, item)
        inv = etree.SubElement(invoices, f"{{{XML_NS}}}Invoice", line=str(values["line_no"]))
        for key in ("invoice_id", "invoice_number", "issue_date", "due_date"):
            etree.SubElement(inv, f"{{{XML_NS}}}{_camel(key)}").text = _text(values[key])
        debtor = etree.SubElement(inv, f"{{{XML_NS}}}Debtor")
        for key in ("customer_id", "customer_name", "customer_vat_id", "customer_siren", "customer_country"):
            if values[key] is not None:
                etree.SubElement(debtor, f"{{{XML_NS}}}{_camel(key.removeprefix('customer_'))}").text = _text(values[key])
        for key in ("amount", "advance_amount", "reserve_amount", "commission", "financing_fee", "net_advance"):
            etree.SubElement(inv, f"{{{XML_NS}}}{_camel(key)}", currency=values["currency"]).text = _text(values[key])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render_json(batch: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> bytes:
    doc = {
        "header": _header(batch),
        "invoices": [{k: (None if v is None else _text(v) if not isinstance(v, int) else v)
                      for k, v in line_values(batch, item).items()} for item in items],
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def render_manifest(batch: Mapping[str, Any], files: Sequence[BuiltFile]) -> bytes:
    doc = {
        "format": MANIFEST_FORMAT,
        **_header(batch),
        "files": [{"name": f.name, "format": f.format, "bytes": len(f.content), "sha256": f.sha256} for f in files],
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def build(contract: FactorContract, batch: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> BuiltBatch:
    """Render every format the contract declares, then the manifest that lists them."""
    ordered = sorted(items, key=lambda i: int(i["line_no"]))
    spec = contract.file
    files: list[BuiltFile] = []
    for fmt in spec.formats:
        if fmt == "csv":
            content = render_csv(batch, ordered, spec.csv)
        elif fmt == "xml":
            content = render_xml(batch, ordered)
        else:
            content = render_json(batch, ordered)
        files.append(BuiltFile(_fill(spec.name_pattern, batch, fmt), fmt, content))
    manifest = BuiltFile(_fill(spec.manifest_pattern, batch, "json"), "manifest", render_manifest(batch, files))
    return BuiltBatch(tuple(files), manifest)


def parse_manifest(content: bytes) -> dict[str, Any]:
    return dict(json.loads(content.decode("utf-8")))
