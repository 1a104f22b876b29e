"""The role model, the generated SQL and masking, without a database."""

from __future__ import annotations

import pytest

from lettrage.logging import mask_text
from warehouse.access.audit import _changes
from warehouse.access.errors import AccessError
from warehouse.access.postgres import check_entity, check_user, scope_predicate, table_statements
from warehouse.access.roles import RoleNames, classify

ROLES = RoleNames("lettrage")


@pytest.mark.parametrize(("table", "columns", "reader", "reviewer", "insert", "rls"), [
    ("fct_invoice", {"entity", "invoice_id"}, True, True, False, True),
    ("mart_aged_balance", {"entity", "bucket"}, True, True, False, True),
    ("dim_customer", {"entity", "iban"}, True, True, False, True),
    ("mart_global", {"month"}, True, True, False, False),
    ("raw_stripe_charges", {"entity"}, False, False, False, False),
    ("stg_sage_fec__invoices", {"entity"}, False, False, False, False),
    ("int_invoices", {"entity"}, False, False, False, False),
    ("_dlt_loads", {"load_id"}, False, False, False, False),
    ("reconcile_run", {"entity"}, False, False, False, False),
    ("decision", {"entity", "actor"}, False, True, True, True),
    ("payer_alias", {"entity"}, False, True, True, True),
    ("dunning_outbox", {"entity", "recipients"}, False, True, False, True),
], ids=["fact", "mart", "dim", "mart-without-entity", "raw", "staging", "intermediate", "dlt", "reconcile-state",
        "decision", "payer-alias", "outbox"])
def test_classify_gives_readers_the_contract_layers_only(table: str, columns: set[str], reader: bool,
                                                         reviewer: bool, insert: bool, rls: bool) -> None:
    access = classify(table, columns)
    assert (access.reader_select, access.reviewer_select, access.reviewer_insert, access.row_level) == (
        reader, reviewer, insert, rls)


def test_role_names_follow_the_prefix_and_refuse_unknown_groups() -> None:
    roles = RoleNames("lt1234")
    assert roles.all == ("lt1234_loader", "lt1234_reader", "lt1234_reviewer", "lt1234_admin")
    assert roles.group("reviewer") == "lt1234_reviewer"
    with pytest.raises(AccessError, match="unknown role 'boss'"):
        roles.group("boss")
    with pytest.raises(AccessError, match="invalid role prefix"):
        RoleNames('x"; DROP ROLE postgres; --')


@pytest.mark.parametrize(("value", "ok"), [("FR01", True), ("*", True), ("fr01", False), ("FR01'--", False), ("", False)],
                         ids=["code", "all", "lower-case", "injection", "empty"])
def test_entity_codes_are_checked(value: str, ok: bool) -> None:
    if ok:
        assert check_entity(value) == value
    else:
        with pytest.raises(AccessError, match="invalid entity code"):
            check_entity(value)


@pytest.mark.parametrize(("value", "ok"), [("ann", True), ("jean.dupont", True), ("Ann", False), ('a"b', False)],
                         ids=["plain", "dotted", "upper-case", "quote"])
def test_user_names_are_checked(value: str, ok: bool) -> None:
    if ok:
        assert check_user(value) == value
    else:
        with pytest.raises(AccessError, match="invalid user name"):
            check_user(value)


def test_decision_statements_bind_inserts_to_scope_and_actor_and_forbid_changes() -> None:
    sql = "\n".join(table_statements("lettrage", classify("decision", {"entity", "actor"}), ROLES, reown=False))
    assert 'GRANT INSERT ON "lettrage"."decision" TO "lettrage_reviewer"' in sql
    assert "AND actor = current_user" in sql
    assert "BEFORE UPDATE OR DELETE" in sql and "BEFORE TRUNCATE" in sql
    assert "ENABLE ROW LEVEL SECURITY" in sql and "NO FORCE ROW LEVEL SECURITY" in sql


def test_raw_tables_get_no_reader_grant_and_no_policy() -> None:
    sql = table_statements("lettrage", classify("raw_stripe_charges", {"entity"}), ROLES, reown=True)
    assert sql[0] == 'ALTER TABLE "lettrage"."raw_stripe_charges" OWNER TO "lettrage_loader"'
    assert not [s for s in sql if s.startswith("GRANT SELECT")]
    assert not [s for s in sql if "POLICY" in s]
    assert any(s.startswith("REVOKE ALL") for s in sql)  # a reclassified table loses old grants


def test_the_scope_predicate_is_schema_qualified_and_membership_based() -> None:
    pred = scope_predicate("t_abc")
    assert '"t_abc"."access_entity_scope"' in pred
    assert "pg_has_role(current_user, r.oid, 'MEMBER')" in pred and "s.entity = '*'" in pred


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("paid from FR76 3000 6000 0112 3456 7890 189 today", "3000 6000", "0189"),
    ("loaded FR7630004907725320579463053_2026-11.xml", "FR763000490772532057946", "3053_2026-11.xml"),
    ("mail compta@acme.example", "compta@", "mple"),
    ("iban=DE75701500002665916458,", "DE757015", "6458,"),
], ids=["spaced-iban", "iban-in-file-name", "email", "iban-in-query-string"])
def test_mask_text_keeps_only_the_last_four(text: str, hidden: str, kept: str) -> None:
    masked = mask_text(text)
    assert hidden not in masked and kept in masked


def test_mask_text_leaves_ordinary_references_alone() -> None:
    assert mask_text("invoice FA-2025-000072 of FR01, 1,200.00 EUR") == "invoice FA-2025-000072 of FR01, 1,200.00 EUR"


def test_record_masking_covers_handlers_added_later(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from lettrage.logging import install_masking

    install_masking()
    with caplog.at_level(logging.INFO, logger="connectors.any"):
        logging.getLogger("connectors.any").info("payer %s", "FR7630006000011234567890189")
    assert "FR7630006000011234567890189" not in caplog.text and "0189" in caplog.text


def test_changes_lists_what_a_decision_changed() -> None:
    assert _changes('{"state": "auto", "rule": "x"}', '{"state": "confirmed", "rule": "x"}') == "state: auto -> confirmed"
    assert _changes(None, '{"promised_on": "2026-12-01"}') == "promised_on: None -> 2026-12-01"
    assert _changes("not json", "{}") == ""
