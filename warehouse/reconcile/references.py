"""Invoice references as people and banks actually write them.

A remittance says ``Facture N° 2024-00123``, ``FA2024123``, ``inv 2024/123`` or
just ``00123`` for invoice ``FA-2024-00123``. Each side (invoice number, payment
token) is reduced to a few *keys*; two sides match when a key of the same kind
is equal. The SQL cascade computes the very same keys in the warehouse
(:func:`sql_key_macros`), and a test holds the two implementations together.

Key kinds, strongest first:

==  ==========  =============================================================
1   exact       the token as printed (upper case, outer separators trimmed)
2   normalized  prefix (FA-, INV, Facture, RF check digits) stripped, separators
                removed, leading zeros stripped: ``202400123``
3   groups      digit groups without their zero padding: ``2024-123``
4   tail        the number without its year part: ``123`` (same customer only)
5   alias       another number the ERP keeps for the document (SAP's document number when XBLNR holds
                something else, a unique assignment such as a QR reference), exact or normalized; looked
                up only for tokens that named no invoice number
==  ==========  =============================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

EXACT, NORMALIZED, GROUPS, TAIL, ALIAS = 1, 2, 3, 4, 5
KIND_RULE: dict[int, str] = {
    EXACT: "exact_reference", NORMALIZED: "normalized_reference", GROUPS: "reference_groups", TAIL: "reference_tail",
    ALIAS: "alias_reference",
}
TOKEN_SPLIT = "[^A-Z0-9/._-]+"
TOKEN_CHARS = "[A-Z0-9/._-]"
TOKEN_TRIM = "/._-"
YEAR_TAIL = "^(19|20)?[0-9][0-9][^A-Z0-9]+0*([0-9]+)$"
# A year and the number after it, separated with spaces ("FACTURE 2024 00123"): also read joined by
# a dash. Only after a year: any two digit groups would join amounts written with spaces
# ("12 500,00" -> 12-500), whose digits can be another invoice's normalized number.
SPACED_DIGITS = "(^|[^0-9A-Z])((?:19|20)[0-9][0-9]) +([0-9])"
SPACED_JOINED = r"\1\2-\3"
# A structured reference written in groups of four, as banking apps print it: an ISO 11649 creditor
# reference (RF18 5390 0754 7034) or a Dutch payment reference (1234 5678 9012 3456). Also read run
# together, after the tokens as written (up to four groups: longer ones keep their first sixteen).
GROUPED_REFERENCE = "(^|[^0-9A-Z])(RF[0-9][0-9]|[0-9]{4}) ([0-9A-Z]{4}) ([0-9A-Z]{4}) ([0-9A-Z]{1,4})($|[^0-9A-Z])"
GROUPED_JOINED = r"\1\2\3\4\5\6"
# A Finnish reference number (viitenumero) as printed on a giro slip and retyped by the payer: groups of
# five digits counted from the right, the first holding the rest ("9 00100 03670"). Also read run
# together (up to four groups of five after the first).
FIVE_GROUPS = "(^|[^0-9A-Z])([0-9]{1,5}) ([0-9]{5})(?: ([0-9]{5}))?(?: ([0-9]{5}))?(?: ([0-9]{5}))?($|[^0-9A-Z])"
FIVE_JOINED = r"\1\2\3\4\5\6\7"
# The ways a remittance's spaced digits are also read run together, applied in this order (the years
# first: "2024 00123" is a year and its number, not a Finnish reference); one list for the Python
# tokens and the SQL macro ``join_spaced_digits``.
SPACED_JOINS: tuple[tuple[str, str], ...] = (
    (SPACED_DIGITS, SPACED_JOINED), (GROUPED_REFERENCE, GROUPED_JOINED), (FIVE_GROUPS, FIVE_JOINED))
# A list of invoice numbers written with slashes ("RE 90001341/90001342", "FA2024-001/FA2024-002"):
# its parts are tokens too, after the whole. A number written with slashes (INV/2024/00123, a year
# and its number 2024/00123, 12/03/2024) is not a list: a part without a digit, shorter than four
# characters, or a year says so (each pattern finds such a part).
SLASH_NOT_A_LIST = ("(^|/)[^/]{0,3}(/|$)", "(^|/)[^/0-9]*(/|$)", "(^|/)(19|20)[0-9][0-9](/|$)")


def tag_regex(tags: Iterable[str]) -> str | None:
    """Regex of a bank's field code between slashes (``/INV/``, ``/RFB/``); None without tags.

    Replaced by `` /`` (twice, in Python as in SQL): the slash put back lets a code that follows
    at once (``/REMI/USTD//``, whose middle slash the first code consumed) be found by the second
    pass, with no look-ahead (which RE2, DuckDB's engine, lacks).
    """
    tags = tuple(tags)
    return "/(" + "|".join(tags) + ")/" if tags else None


def prefix_regex(prefixes: Iterable[str]) -> str:
    """Regex whose 3rd group is the first digit after an optional RF check part and prefix."""
    return _prefix_regex(tuple(prefixes))


@lru_cache(maxsize=16)
def _prefix_regex(prefixes: tuple[str, ...]) -> str:
    alternatives = "|".join(sorted({p.upper() for p in prefixes}, key=lambda p: (-len(p), p))) or "\\b\\B"
    return f"^(RF[0-9][0-9])?({alternatives})?[^A-Z0-9]*([0-9])"


def fold(text: str | None) -> str:
    """Upper case without accents: ``Facture N°`` -> ``FACTURE N°``."""
    if not text:
        return ""
    if text.isascii():  # the common case, and hot in the residue: nothing to decompose
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def tokens(text: str | None, tags: Iterable[str] = ()) -> list[str]:
    """Candidate reference tokens of a free text: runs of letters, digits and separators holding a digit.

    Bank field codes (``tags``, such as ``/INV/``) are separators, so ``/INV/FA-2024-00123``
    yields ``FA-2024-00123``. A year and the number after it separated by spaces (``2024 00123``)
    also yield the two joined by a dash (``2024-00123``), and a structured reference in groups of four
    (``RF18 5390 0754 7034``) or a Finnish reference in groups of five (``9 00100 03670``) run together,
    after the tokens as written; a list
    written with slashes (``90001341/90001342``) also yields its parts (see SLASH_NOT_A_LIST).
    """
    ref = fold(text)
    pattern = tag_regex(tags)
    if pattern and "/" in ref:
        tag = _compiled(pattern)
        ref = tag.sub(" /", tag.sub(" /", ref))
    joined = ref
    for spaced, run_together in SPACED_JOINS:
        joined = _compiled(spaced).sub(run_together, joined)
    out: list[str] = []
    for source in (ref, joined) if joined != ref else (ref,):
        for raw in re.split(TOKEN_SPLIT, source):
            token = raw.strip(TOKEN_TRIM)
            if token and any(ch.isdigit() for ch in token) and token not in out:
                out.append(token)
    for token in [t for t in out if "/" in t and not any(_compiled(p).search(t) for p in SLASH_NOT_A_LIST)]:
        out.extend(part for part in (p.strip(TOKEN_TRIM) for p in token.split("/")) if part and part not in out)
    return out


def _luhn_digit(base: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(base)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def check_digit_references(number: str) -> tuple[str, ...]:
    """The references a Nordic payer quotes for an all-digit document number of 4 to 19 digits: the Finnish
    reference number (7-3-1 check digit), the Norwegian KID or Swedish OCR number (Luhn) and the OCR number
    with its length digit. The warehouse computes the same in SQL (models/core/int_invoice_aliases.sql);
    this is the statement of the schemes the tests hold it to.
    """
    num = number.strip()
    if not (4 <= len(num) <= 19 and num.isdigit()):
        return ()
    finnish = num + str((10 - sum(int(ch) * (7, 3, 1)[i % 3] for i, ch in enumerate(reversed(num))) % 10) % 10)
    with_length = num + str((len(num) + 2) % 10)
    return tuple(dict.fromkeys((finnish, num + _luhn_digit(num), with_length + _luhn_digit(with_length))))


def strip_prefix(value: str, prefixes: Iterable[str]) -> str:
    return _compiled(prefix_regex(prefixes)).sub(r"\3", value, count=1)


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _groups(stripped: str) -> str | None:
    dashed = re.sub("[^A-Z0-9]+", "-", stripped)
    unpadded = re.sub("-0+([0-9])", r"-\1", "-" + dashed).lstrip("-")
    return unpadded if "-" in unpadded else None


def invoice_keys(number: str | None, prefixes: Iterable[str], min_len: int = 4, min_tail: int = 2) -> dict[int, str]:
    """The keys of an invoice number as printed."""
    exact = fold(number).strip()
    if not exact:
        return {}
    keys = {EXACT: exact}
    stripped = strip_prefix(exact, prefixes)
    norm = re.sub("[^A-Z0-9]", "", stripped).lstrip("0")
    if len(norm) >= min_len:
        keys[NORMALIZED] = norm
    groups = _groups(stripped)
    if groups:
        keys[GROUPS] = groups
    tail = re.match(YEAR_TAIL, stripped)
    if tail and len(tail.group(2)) >= min_tail:
        keys[TAIL] = tail.group(2)
    return keys


def token_keys(token: str, prefixes: Iterable[str], min_len: int = 4, min_tail: int = 2) -> dict[int, str]:
    """The keys of one payment token (a tail key only when the token is a bare number)."""
    keys = {EXACT: token}
    stripped = strip_prefix(token, prefixes)
    norm = re.sub("[^A-Z0-9]", "", stripped).lstrip("0")
    if len(norm) >= min_len:
        keys[NORMALIZED] = norm
    groups = _groups(stripped)
    if groups:
        keys[GROUPS] = groups
    if stripped.isdigit() and len(stripped.lstrip("0")) >= min_tail:
        keys[TAIL] = stripped.lstrip("0")
    return keys


def normalized(value: str | None, prefixes: Iterable[str]) -> str:
    """The normalized key (kind 2) without a length floor, for fuzzy comparison."""
    return re.sub("[^A-Z0-9]", "", strip_prefix(fold(value).strip(), prefixes)).lstrip("0")


def credit_note_regex(words: Iterable[str]) -> str | None:
    """Regex whose 3rd group is the number written after a credit-note word (``NC 2025/008``); None without words."""
    words = tuple(words)
    return ("(^|[^A-Z0-9])(" + "|".join(words) + ")[ .:#°º]*(" + TOKEN_CHARS + "*[0-9]" + TOKEN_CHARS + "*)"
            if words else None)


def _nested_replace(col: str, joins: tuple[tuple[str, str], ...]) -> str:
    """SQL applying each (pattern, replacement) of ``joins`` to ``col`` in turn, as :func:`tokens` does."""
    for pattern, replacement in joins:
        col = f"regexp_replace({col}, '{pattern}', '{replacement}', 'g')"
    return col


def sql_key_macros(prefixes: Iterable[str], tags: Iterable[str] = (), credit_note_words: Iterable[str] = ()) -> str:
    """Jinja macros computing the same keys in SQL (DuckDB and Postgres share this regex subset)."""
    pre = prefix_regex(prefixes).replace("'", "''")
    tag = tag_regex(tags)
    cn = credit_note_regex(credit_note_words)
    credit_notes = (r"""
{% macro credit_note_tokens(col) -%}
{% if engine == 'duckdb' %}unnest(regexp_extract_all({{ col }}, '""" + cn + r"""', 3)){% else %}(regexp_matches({{ col }}, '""" + cn + r"""', 'g'))[3]{% endif %}
{%- endmacro %}
{% macro may_name_credit_note(col) -%}
(""" + " OR ".join(f"strpos({{{{ col }}}}, '{w}') > 0" for w in credit_note_words) + r""")
{%- endmacro %}""" if cn else "")
    untag = (r"""
{% macro strip_tags(col) -%}
CASE WHEN strpos({{ col }}, '/') > 0
     THEN regexp_replace(regexp_replace({{ col }}, '""" + tag + """', ' /', 'g'), '""" + tag + """', ' /', 'g')
     ELSE {{ col }} END
{%- endmacro %}""" if tag else """
{% macro strip_tags(col) %}{{ col }}{% endmacro %}""")
    return untag + credit_notes + r"""
{% macro join_spaced_digits(col) -%}
""" + _nested_replace("{{ col }}", SPACED_JOINS) + r"""
{%- endmacro %}
{% macro strip_prefix(col) -%}
regexp_replace({{ col }}, '""" + pre + r"""', '\3')
{%- endmacro %}
{% macro k_norm(stripped) -%}
ltrim(regexp_replace({{ stripped }}, '[^A-Z0-9]', '', 'g'), '0')
{%- endmacro %}
{% macro k_groups(stripped) -%}
{{ k_groups_of_dashed(k_dashed(stripped)) }}
{%- endmacro %}
{#- the two keys from one regular expression pass: separators runs made one dash, then the normalized
    key is that without dashes (a plain replace) and the groups key that without zero padding -#}
{% macro k_dashed(stripped) -%}
regexp_replace({{ stripped }}, '[^A-Z0-9]+', '-', 'g')
{%- endmacro %}
{% macro k_norm_of_dashed(dashed) -%}
ltrim(replace({{ dashed }}, '-', ''), '0')
{%- endmacro %}
{% macro k_groups_of_dashed(dashed) -%}
ltrim(regexp_replace('-' || {{ dashed }}, '-0+([0-9])', '-\1', 'g'), '-')
{%- endmacro %}
{% macro split_tokens(col) -%}
{% if engine == 'duckdb' %}unnest(string_split_regex({{ col }}, '""" + TOKEN_SPLIT + r"""')){% else %}regexp_split_to_table({{ col }}, '""" + TOKEN_SPLIT + r"""'){% endif %}
{%- endmacro %}
{% macro year_tail() %}""" + YEAR_TAIL + r"""{% endmacro %}
{% macro slash_list(col) -%}
(strpos({{ col }}, '/') > 0""" + "".join(f" AND NOT {{{{ regex_matches(col, '{p}') }}}}" for p in SLASH_NOT_A_LIST) + r""")
{%- endmacro %}
{% macro split_slash(col) -%}
{{ split_list(col, '/') }}
{%- endmacro %}
"""
