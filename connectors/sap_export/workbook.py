"""SAP line-item exports saved as Excel workbooks (``.xlsx``), read as the delimited text of their layout.

FBL5N's "Spreadsheet" export and most lists finance teams hand over are workbooks, not
CSV. Their cells are typed (dates, numbers), so the layout is recognised from the header
row exactly as for text, and each row is written back as that layout's text (its date
format, decimal separator and sign convention): from there the vectorised parser, its
checks and its quarantine are the same for both. Row numbers are kept: line *n* of the
text is row *n* of the sheet, so a quarantined row names the row a person opens.

Why openpyxl: already a dependency (the reports write workbooks); its read-only mode
streams rows, so a year of line items does not sit in memory as cell objects.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors._files import wrong_format
from mappings.sap import SapLayout

AMOUNT_FIELDS = frozenset({"WRBTR", "DMBTR"})
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def is_workbook(path: Path) -> bool:
    return path.suffix.lower() in WORKBOOK_SUFFIXES


def workbook_as_text(path: Path, layouts: tuple[SapLayout, ...], out_dir: Path) -> Path:
    """Write the first sheet of ``path`` as UTF-8 text in the layout its header row matches; returns the text file.

    Raises :class:`WrongFormat` naming the header cells when no layout fits (as for a CSV).
    """
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [_text(v) for v in next(rows, ())]
        while header and not header[-1]:
            header.pop()
        layout = _layout_of(path, header, layouts)
        fields = {i: f for f, i in layout.resolve(header).items()}
        target = out_dir / path.name  # (the rows' source_file and the quarantine name the workbook)
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = _writer(fh, layout)
            writer.writerow(header)
            for row in rows:
                cells = list(row[: len(header)]) + [None] * (len(header) - len(row))
                writer.writerow(_cell(v, fields.get(i), layout) for i, v in enumerate(cells))
    finally:
        book.close()
    return target


def _layout_of(path: Path, header: list[str], layouts: tuple[SapLayout, ...]) -> SapLayout:
    scored = sorted(((layout.score(header), layout.name, layout) for layout in layouts), key=lambda s: (-s[0], s[1]))
    if not scored or scored[0][0] <= 0:
        raise wrong_format(path, f"a SAP line-item workbook whose first row matches one of the layouts "
                                 f"{[la.name for la in layouts]} (mappings/sap/layouts/*.yaml)", f"header cells {header}")
    return scored[0][2]


def _writer(fh: io.TextIOBase, layout: SapLayout) -> Any:
    if layout.quote_char:
        return csv.writer(fh, delimiter=layout.delimiter, quotechar=layout.quote_char, quoting=csv.QUOTE_MINIMAL,
                          lineterminator="\n")
    return _PlainWriter(fh, layout.delimiter)


class _PlainWriter:
    """Rows for a layout without quoting: a delimiter inside a text cell becomes a space."""

    def __init__(self, fh: io.TextIOBase, delimiter: str) -> None:
        self._fh, self._delimiter = fh, delimiter

    def writerow(self, cells: Any) -> None:
        self._fh.write(self._delimiter.join(str(c).replace(self._delimiter, " ") for c in cells) + "\n")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _cell(value: Any, field: str | None, layout: SapLayout) -> str:
    """One cell as the layout writes it: dates in its format, amounts with its separators and sign."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.strftime(layout.strptime_format)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if field in AMOUNT_FIELDS:
            return _amount(number, layout)
        # (a whole number as such: a key, a count, a YYYYMMDD date typed as a number)
        return str(int(number)) if number == number.to_integral_value() else str(number)
    return str(value).strip()


def _amount(number: Decimal, layout: SapLayout) -> str:
    decimal_sep, _ = layout.separators
    # (not rounded: an amount with three decimals is quarantined as in a text export)
    text = f"{abs(number):f}".replace(".", decimal_sep)
    if number >= 0:
        return text
    return text + "-" if layout.sign == "trailing_minus" else "-" + text
