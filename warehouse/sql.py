"""SQL templates: one text per model, engine differences as macros.

Models are Jinja2 templates rendered with the engine's name and a few
macros (minor units to decimal, unix seconds to date, reference
normalisation), so a model is written once and runs on DuckDB and Postgres.
Header comments declare what the build needs to know::

    -- shape: invoices
    -- requires: raw_sage_fec_lines, raw_sage_fec_customers
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from lettrage.money import currencies_with_exponent

MODELS_DIR = Path(__file__).parent / "models"
# Payout components that hand a payment's money back (negative) or bring a failed refund back (positive), in the
# providers' own words: Stripe's reporting categories refund / refund_failure, GoCardless's payout-item types
# payment_refunded / refund_funds_returned (its `refund` item names no payment). What was refunded of a payment
# is minus their sum (or more: a refund counts before its payout, int_payment_refunds). The macros refund_kinds and
# refunded_by_payment give the same lists to the SQL templates.
_REFUNDS_OUT = ("refund", "payment_refunded")
_REFUNDS_CAME_BACK = ("refund_failure", "refund_funds_returned")
REFUND_KINDS = "(" + ", ".join(f"'{k}'" for k in _REFUNDS_OUT + _REFUNDS_CAME_BACK) + ")"
REFUNDS_CAME_BACK = "(" + ", ".join(f"'{k}'" for k in _REFUNDS_CAME_BACK) + ")"
# A payout whose money never reached the bank, in the providers' own words: Stripe's failed and canceled, GoCardless's
# bounced (the bank rejected it). Its payments are not banked (fct_payment.banked_payout_id), it takes a bank line only
# when the line names it (int_payout_bank_links), and its charges are money still on its way (actions/in_transit.py).
# The macro payout_not_banked gives the same list to the SQL templates.
PAYOUT_NOT_BANKED_STATUSES = ("failed", "canceled", "bounced")
PAYOUT_NOT_BANKED = "(" + ", ".join(f"'{k}'" for k in PAYOUT_NOT_BANKED_STATUSES) + ")"


def refunded_by_payment(where: str = "TRUE") -> str:
    """SQL: what was refunded of each payment (entity, payment_id, refunded), ``where`` filtering both sources.

    The larger of what the payouts' refund lines net (REFUND_KINDS) and what the provider's standing refunds
    took back (int_payment_refunds): a refund counts from the night it exists, not from the night a payout
    nets it, and a refund that failed after its payout counts until its refund_failure line brings it back.
    """
    return (
        "SELECT entity, payment_id, max(refunded) AS refunded FROM (\n"
        "    SELECT entity, payment_id, -sum(amount) AS refunded FROM fct_payout_component\n"
        f"    WHERE kind IN {REFUND_KINDS} AND payment_id IS NOT NULL AND {where} GROUP BY entity, payment_id\n"
        "    UNION ALL\n"
        f"    SELECT entity, payment_id, refunded FROM int_payment_refunds WHERE refunded IS NOT NULL AND {where}\n"
        ") AS refunds GROUP BY entity, payment_id"
    )


def paid_back_by_payment(where: str = "TRUE") -> str:
    """SQL: what of each payment's overpayment went back to the payer by transfer (entity, payment_id, paid_back).

    The reconciliation raises such an overpayment closed, naming the debit that paid it back (50_exceptions): that
    money is no longer the customer's credit (mart_unapplied_cash), and the payment is fully applied net of it.
    """
    return ("SELECT entity, payment_id, sum(amount) AS paid_back FROM fct_reconciliation_exception\n"
            f"WHERE kind = 'overpayment' AND bank_line_id IS NOT NULL AND payment_id IS NOT NULL AND {where}\n"
            "GROUP BY entity, payment_id")


_HEADER_RE = re.compile(r"^--\s*(shape|requires|optional):\s*(.*)$", re.MULTILINE)

MACROS = r"""
{#- Integer minor units (Stripe's wire) to the amount, by the currency's ISO 4217 exponent (lettrage.money): 0 for
    JPY, 3 for KWD (Stripe's 12340 kwd is 12.340 KWD, always a multiple of ten, so it fits two decimals; read as
    cents it was 123.40, ten times the money). -#}
{% macro minor_to_decimal(col, currency) -%}
CAST(CAST({{ col }} AS DECIMAL(18,0)) * (CASE WHEN upper({{ currency }}) IN ({{ zero_decimal_currencies }}) THEN 1
    WHEN upper({{ currency }}) IN ({{ three_decimal_currencies }}) THEN 0.001 ELSE 0.01 END) AS DECIMAL(18,2))
{%- endmacro %}
{% macro unix_to_date(col) -%}
{% if engine == 'duckdb' %}CAST(to_timestamp(CAST({{ col }} AS BIGINT)) AS DATE){% else %}CAST(to_timestamp(CAST({{ col }} AS BIGINT)) AS DATE){% endif %}
{%- endmacro %}
{% macro unix_to_ts(col) -%}
to_timestamp(CAST({{ col }} AS BIGINT))
{%- endmacro %}
{% macro norm_ref(col) -%}
regexp_replace(upper(coalesce({{ col }}, '')), '[^A-Z0-9]', '', 'g')
{%- endmacro %}
{% macro days_between(later, earlier) -%}
(CAST({{ later }} AS DATE) - CAST({{ earlier }} AS DATE))
{%- endmacro %}
{% macro add_days(d, n) -%}
(CAST({{ d }} AS DATE) + CAST({{ n }} AS INTEGER))
{%- endmacro %}
{#- One row per item of a ``sep``-separated list in ``col`` (a set-returning expression for a SELECT list): the
    receipts an ERP lists on an invoice ("7040,9033"), a remittance's slash-separated numbers. -#}
{% macro split_list(col, sep=',') -%}
{% if engine == 'duckdb' %}unnest(string_split({{ col }}, '{{ sep }}')){% else %}regexp_split_to_table({{ col }}, '{{ sep }}'){% endif %}
{%- endmacro %}
{#- The ERP customer a provider's metadata key names (erp_customer_id, customer_number: providers.yaml), as
    (entity, k, customer_id): a customer's id or the number people use (NetSuite's entityid, Sage Accounting's
    contact reference), as it is, without the zeros SAP pads numbers with ('10010' for 0000010010), or a
    prefixed number by its digits ('32' for CUST00032); a key that names one customer only. Look keys up with
    join_customer_keys below. -#}
{% macro customer_keys() -%}
SELECT entity, k, min(customer_id) AS customer_id FROM (
    SELECT entity, customer_id, number AS k FROM ({{ _customer_numbers() }}) AS n
    UNION ALL
    SELECT entity, customer_id, ltrim(number, '0') FROM ({{ _customer_numbers() }}) AS n
    WHERE ltrim(number, '0123456789') = '' AND ltrim(number, '0') <> ''
    UNION ALL
    SELECT entity, customer_id, ltrim({{ regex_group('number', '^[A-Z]+[-_ ]?([0-9]+)$') }}, '0')
    FROM ({{ _customer_numbers() }}) AS n WHERE is_customer_number
) AS keys
WHERE coalesce(k, '') <> ''
GROUP BY entity, k HAVING min(customer_id) = max(customer_id)
{%- endmacro %}
{#- The look-ups of a provider's customer key ``key`` in the CTE ``customer_keys`` above: as it is (``k``), and a key
    of digits alone by its digits without SAP's zero padding (``z``); its customer is coalesce(k.customer_id,
    z.customer_id). -#}
{% macro join_customer_keys(key, entity) -%}
LEFT JOIN customer_keys AS k ON k.entity = {{ entity }} AND k.k = upper(trim({{ key }}))
LEFT JOIN customer_keys AS z ON z.entity = {{ entity }} AND z.k = ltrim(trim({{ key }}), '0')
 AND ltrim(trim({{ key }}), '0123456789') = ''
{%- endmacro %}
{% macro _customer_numbers() -%}
SELECT entity, customer_id, upper(trim(customer_id)) AS number, FALSE AS is_customer_number FROM dim_customer
UNION ALL
SELECT entity, customer_id, upper(trim(customer_number)), TRUE FROM dim_customer WHERE customer_number IS NOT NULL
{%- endmacro %}
{#- Each email address of the customer master that belongs to one customer of its entity, as (entity, email,
    customer_id), lower case: a provider customer created without the ERP's id in its metadata (a GoCardless
    mandate signed online, a Stripe checkout) is found by the address it paid from. A master may list several
    addresses in one field ("compta@x.fr; ap@x.fr"); an address two customers share (a group's one accounts
    payable mailbox) names neither. -#}
{% macro customer_emails() -%}
SELECT entity, email, min(customer_id) AS customer_id FROM (
    SELECT entity, customer_id, lower(trim(translate(address, '<>', ''))) AS email FROM (
        SELECT entity, customer_id, {{ split_list("replace(replace(email, ';', ','), ' ', ',')") }} AS address
        FROM dim_customer WHERE email LIKE '%@%'
    ) AS a
) AS e
WHERE email LIKE '%_@_%'
GROUP BY entity, email HAVING min(customer_id) = max(customer_id)
{%- endmacro %}
{% macro money(expr) -%}
CAST({{ expr }} AS DECIMAL(18,2))
{%- endmacro %}
{#- Laying one side's amounts against the other's in order (credit notes against the invoices lettered with them,
    refunds against credit notes, receipts against invoices): each row's place on its side's line is the sum of the
    amounts before it (``sum_before``), and two rows of opposite sides share what their stretches overlap
    (``overlap``, positive when they meet). -#}
{% macro sum_before(amount, partition, order) -%}
coalesce(sum({{ amount }}) OVER (PARTITION BY {{ partition }} ORDER BY {{ order }}
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
{%- endmacro %}
{% macro overlap(a_start, a_amount, b_start, b_amount) -%}
(least({{ a_start }} + {{ a_amount }}, {{ b_start }} + {{ b_amount }}) - greatest({{ a_start }}, {{ b_start }}))
{%- endmacro %}
{#- The payout components of refunds (REFUND_KINDS above), or of refunds that failed and came back only; and what was
    refunded of each payment they name (``where``: a filter such as ``entity = :entity``). -#}
{% macro refund_kinds(came_back=False) -%}
{% if came_back %}@REFUNDS_CAME_BACK@{% else %}@REFUND_KINDS@{% endif %}
{%- endmacro %}
{#- The statuses of a payout whose money never reached the bank (PAYOUT_NOT_BANKED above). -#}
{% macro payout_not_banked() -%}
@PAYOUT_NOT_BANKED@
{%- endmacro %}
{% macro refunded_by_payment(where='TRUE') -%}
@REFUNDED_BY_PAYMENT@
{%- endmacro %}
{% macro paid_back_by_payment(where='TRUE') -%}
@PAID_BACK_BY_PAYMENT@
{%- endmacro %}
{#- What the bank and provider data show, per entity and currency, and from which day: the accounts' currencies,
    those payers instructed in another (a GBP payment converted into a EUR account), the provider payments'.
    Money in a currency none shows, or from before that day, can only be known from the ERP (16_erp_settled
    settles on its word, mart_unapplied_cash counts what it left unapplied). ``where``: a filter on both
    tables (``entity = :entity``). -#}
{% macro shown_money(where='TRUE') -%}
SELECT entity, currency, min(since) AS since FROM (
    SELECT entity, upper(currency) AS currency, min(booking_date) AS since FROM fct_bank_line
    WHERE currency IS NOT NULL AND {{ where }} GROUP BY entity, upper(currency)
    UNION ALL
    SELECT entity, upper(instructed_currency), min(booking_date) FROM fct_bank_line
    WHERE instructed_currency IS NOT NULL AND {{ where }} GROUP BY entity, upper(instructed_currency)
    UNION ALL
    SELECT entity, upper(currency), min(paid_on) FROM fct_payment
    WHERE channel <> 'erp' AND currency IS NOT NULL AND {{ where }} GROUP BY entity, upper(currency)
) AS shown GROUP BY entity, currency
{%- endmacro %}
{#- Regular expressions (from mappings, validated as read alike by both engines, e.g. mappings/sage_fec.py,
    or the reconciliation's reference patterns): whether `col` matches `pattern` somewhere, and the text of
    its group `n` (NULL without a match). -#}
{% macro regex_matches(col, pattern) -%}
{% if engine == 'duckdb' %}regexp_matches({{ col }}, {{ pattern | regex_literal(engine) }}){% else %}({{ col }} ~ {{ pattern | regex_literal(engine) }}){% endif %}
{%- endmacro %}
{% macro regex_group(col, pattern, n=1) -%}
{% if engine == 'duckdb' %}nullif(regexp_extract({{ col }}, {{ pattern | regex_literal(engine) }}, {{ n }}), ''){% else %}(regexp_match({{ col }}, {{ pattern | regex_literal(engine) }}))[{{ n }}]{% endif %}
{%- endmacro %}
{#- Bank returns (SEPA R-transactions: a collection sent back AC04, MD06, ...) paired with the credit they
    return: same EndToEndId and currency, the credit booked on or before the return, the return at least
    the credit's amount (banks add their fee to it), the same counterparty IBAN when both carry one. Each
    return takes the latest such credit and each credit its first return: a collection re-presented under
    the same EndToEndId after a return stays paid. A return without EndToEndId (a transfer we received and
    sent back, PMNT/ICDT/RRTN: banks write NOTPROVIDED) pairs with the credit of exactly its amount from the
    same account within return_days before it. One definition for fct_payment (the credit fails) and
    the reconciliation (the return line raises no second exception). -#}
{% macro bank_returns(bank_lines, return_days=40) -%}
SELECT entity, return_line_id, credit_line_id, return_reason, returned_on FROM (
    SELECT k.*, row_number() OVER (PARTITION BY entity, credit_line_id ORDER BY returned_on, return_line_id) AS rn_c
    FROM (
        SELECT r.entity, r.bank_line_id AS return_line_id, c.bank_line_id AS credit_line_id,
               r.return_reason, r.booking_date AS returned_on,
               row_number() OVER (PARTITION BY r.entity, r.bank_line_id
                                  ORDER BY c.booking_date DESC, c.bank_line_id DESC) AS rn_r
        FROM {{ bank_lines }} AS r
        JOIN {{ bank_lines }} AS c
          ON c.entity = r.entity AND c.end_to_end_id = r.end_to_end_id AND upper(c.currency) = upper(r.currency)
         AND c.amount > 0 AND c.return_reason IS NULL AND c.booking_date <= r.booking_date
         AND -r.amount >= c.amount
         AND (r.counterparty_iban IS NULL OR c.counterparty_iban IS NULL OR r.counterparty_iban = c.counterparty_iban)
        WHERE r.return_reason IS NOT NULL AND r.amount < 0 AND r.end_to_end_id IS NOT NULL
        UNION ALL
        -- a return without EndToEndId (a transfer we received and sent back, PMNT/ICDT/RRTN, "NOTPROVIDED"):
        -- the credit of exactly its amount from the same account, in the {{ return_days }} days before it
        SELECT r.entity, r.bank_line_id, c.bank_line_id, r.return_reason, r.booking_date,
               row_number() OVER (PARTITION BY r.entity, r.bank_line_id
                                  ORDER BY c.booking_date DESC, c.bank_line_id DESC)
        FROM {{ bank_lines }} AS r
        JOIN {{ bank_lines }} AS c
          ON c.entity = r.entity AND c.counterparty_iban = r.counterparty_iban AND upper(c.currency) = upper(r.currency)
         AND c.amount = -r.amount AND c.return_reason IS NULL AND c.booking_date <= r.booking_date
         AND c.booking_date >= {{ add_days('r.booking_date', -return_days) }}
        WHERE r.return_reason IS NOT NULL AND r.amount < 0 AND r.end_to_end_id IS NULL
    ) AS k WHERE rn_r = 1
) AS p WHERE rn_c = 1
{%- endmacro %}
{#- The one customer each account belongs to in the customer master (entity, iban compacted, customer_id): an
    account two customers share names neither. min = max is a third of the cost of count(DISTINCT) over 50,000
    customers. -#}
{% macro iban_owners() -%}
SELECT entity, iban, min(customer_id) AS customer_id
FROM (SELECT entity, upper(replace(iban, ' ', '')) AS iban, customer_id FROM dim_customer
      WHERE iban IS NOT NULL AND iban <> '' AND customer_id IS NOT NULL) AS c
GROUP BY entity, iban HAVING min(customer_id) = max(customer_id)
{%- endmacro %}
{#- Credits we paid back by an ordinary outgoing transfer (a duplicate payment refunded: "DEVOLUCION PAGO
    DUPLICADO", "REMBOURSEMENT TROP PERCU"), not a return: a debit whose remittance holds one of ``words``
    (mappings/bank_codes.yaml refunds.words, upper case), to the account a credit of exactly its amount and
    currency came from in the ``refund_days`` before it. Each debit takes the latest such credit, each credit
    its first debit. fct_payment marks the credit refunded: it settles nothing and is no customer credit. -#}
{% macro bank_refunds(bank_lines, words, refund_days=90) -%}
WITH cn AS MATERIALIZED (
    -- credit notes' numbers, normalised once: a debit naming one pays that credit note back, whatever credit came
    -- from the account before (int_credit_note_refunds)
    SELECT DISTINCT entity, {{ norm_ref('invoice_number') }} AS nn FROM int_invoices
    WHERE doc_type = 'credit_note' AND length({{ norm_ref('invoice_number') }}) >= 5
), r AS MATERIALIZED (
    -- (each debit's text normalised once, not once per credit note it is compared with: Postgres spent 137 s on
    -- 5,000 debits and 10,000 credit notes so)
    SELECT b.entity, b.bank_line_id, b.counterparty_iban, b.currency, b.amount, b.booking_date,
           {{ norm_ref('b.remittance') }} AS nr
    FROM {{ bank_lines }} AS b
    WHERE b.amount < 0 AND b.return_reason IS NULL AND b.counterparty_iban IS NOT NULL
      AND ({% for w in words %}upper(coalesce(b.remittance, '')) LIKE '%{{ w }}%'{% if not loop.last %} OR {% endif %}{% else %}FALSE{% endfor %})
)
SELECT entity, refund_line_id, credit_line_id, refunded_on FROM (
    SELECT k.*, row_number() OVER (PARTITION BY entity, credit_line_id ORDER BY refunded_on, refund_line_id) AS rn_c
    FROM (
        SELECT r.entity, r.bank_line_id AS refund_line_id, c.bank_line_id AS credit_line_id,
               r.booking_date AS refunded_on,
               row_number() OVER (PARTITION BY r.entity, r.bank_line_id
                                  ORDER BY c.booking_date DESC, c.bank_line_id DESC) AS rn_r
        FROM r
        JOIN {{ bank_lines }} AS c
          ON c.entity = r.entity AND c.counterparty_iban = r.counterparty_iban AND upper(c.currency) = upper(r.currency)
         AND c.amount = -r.amount AND c.return_reason IS NULL AND c.booking_date <= r.booking_date
         AND c.booking_date >= {{ add_days('r.booking_date', -refund_days) }}
        WHERE NOT EXISTS (SELECT 1 FROM cn WHERE cn.entity = r.entity AND strpos(r.nr, cn.nn) > 0)
    ) AS k WHERE rn_r = 1
) AS p WHERE rn_c = 1
{%- endmacro %}
""".replace("@REFUND_KINDS@", REFUND_KINDS).replace("@REFUNDS_CAME_BACK@", REFUNDS_CAME_BACK).replace(
    "@PAYOUT_NOT_BANKED@", PAYOUT_NOT_BANKED).replace("@REFUNDED_BY_PAYMENT@", refunded_by_payment("{{ where }}")).replace(
    "@PAID_BACK_BY_PAYMENT@", paid_back_by_payment("{{ where }}"))


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    path: Path
    shape: str | None
    requires: tuple[str, ...]

    @property
    def layer(self) -> str:
        return self.path.parent.name


def parse_model(path: Path) -> Model:
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    for key, value in _HEADER_RE.findall(text):
        meta[key] = value.strip()
    requires = tuple(r.strip() for r in meta.get("requires", "").split(",") if r.strip())
    return Model(path.stem, path, meta.get("shape"), requires)


def discover(layer: str) -> list[Model]:
    return [parse_model(p) for p in sorted((MODELS_DIR / layer).glob("*.sql"))]


def layer_macros() -> str:
    """Macros shared by the models of one layer, in ``models/<layer>/_*.jinja`` (e.g. the marts' as-of state)."""
    return "".join(p.read_text(encoding="utf-8") for p in sorted(MODELS_DIR.glob("*/_*.jinja")))


def template_globals() -> dict[str, object]:
    """Policy look-ups the mart templates read (credit policy, impairment matrix, entity currencies)."""
    from warehouse.marts import template_globals as mart_globals  # lazy: marts imports this module

    return mart_globals()


def regex_literal(pattern: str, engine: str) -> str:
    """``pattern`` as a SQL string literal for ``engine``: quotes doubled, and RE2's word boundaries
    ``\\b``/``\\B`` spelled as Postgres reads them (``\\y``/``\\Y``; its ``\\b`` is a backspace)."""
    if engine == "postgres":
        pattern = re.sub(r"\\(.)", lambda m: {"b": r"\y", "B": r"\Y"}.get(m.group(1), m.group(0)), pattern,
                         flags=re.DOTALL)
    return "'" + pattern.replace("'", "''") + "'"


def per_entity(entity_col: str, values: Mapping[str, object], default: object, *, quote: bool = False) -> str:
    """SQL choosing a value by entity from a mapping (an entity's override, its currency, its default terms):
    ``(CASE <entity_col> WHEN '<entity>' THEN <value> ... ELSE <default> END)``, or ``default`` alone when no
    entity has one. Entity codes are quoted as literals; values too with ``quote`` (text), else written as
    they are (numbers); ``default`` is SQL as written."""
    if not values:
        return str(default)

    def literal(text: object) -> str:
        return "'" + str(text).replace("'", "''") + "'"

    cases = " ".join(f"WHEN {literal(e)} THEN {literal(v) if quote else v}" for e, v in values.items())
    return f"(CASE {entity_col} {cases} ELSE {default} END)"


def environment() -> jinja2.Environment:
    """The Jinja environment SQL templates compile in: strict, with the filters MACROS use and
    :func:`per_entity`."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["regex_literal"] = regex_literal
    env.globals["per_entity"] = per_entity
    for name, digits in (("zero_decimal_currencies", 0), ("three_decimal_currencies", 3)):
        env.globals[name] = ", ".join(f"'{c}'" for c in currencies_with_exponent(digits))
    return env


def render(text: str, engine: str, **context: object) -> str:
    env = environment()
    env.globals.update(template_globals())
    template = env.from_string(MACROS + layer_macros() + text)
    return template.render(engine=engine, **context)


def render_model(model: Model, engine: str, **context: object) -> str:
    return render(model.path.read_text(encoding="utf-8"), engine, **context)
