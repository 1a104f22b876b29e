"""The reminder run against a real SMTP server on loopback and the local Stripe/GoCardless sandbox, on both engines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actions.dunning import Channels, SmtpSender, SmtpSettings, run_reminders
from actions.dunning.providers import GoCardlessCollector, StripePayLinks
from actions.dunning.smtp import CRASH_ENV
from lettrage.config import WarehouseConfig
from warehouse.engine import connect

from .conftest import AS_OF, EXCLUDED, GC_TOKEN, STRIPE_KEY

CHILD = Path(__file__).with_name("_child.py")


def _run(config: WarehouseConfig, port: int, sb: Any, checker: Any = None) -> Any:
    with SmtpSender(SmtpSettings(port=port, security="none")) as smtp, connect(config) as engine:
        return run_reminders(engine, "FR01", as_of=AS_OF, channels=Channels(
            smtp=smtp, paylinks=StripePayLinks(STRIPE_KEY, sb.stripe_base),
            gocardless=GoCardlessCollector(GC_TOKEN, sb.gocardless_base), checker=checker))


def _to(box: Any) -> dict[str, Any]:
    return {m["To"]: m for m in box.messages}


def test_right_recipients_languages_amounts_links_and_nothing_for_excluded(
        book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any) -> None:
    box, port = smtp_server
    report = _run(book, port, provider_sandbox)
    mails = _to(box)
    with connect(book) as engine:
        outbox_states = engine.query("SELECT recipients, state, detail FROM dunning_outbox")
    assert report.failed == 0, outbox_states
    customers = {"compta@client-un.fr", "ap@client-two.example"}
    assert customers <= set(mails)
    assert not EXCLUDED & set(mails)
    fr, en = mails["compta@client-un.fr"], mails["ap@client-two.example"]
    assert fr["Subject"].startswith("Relance : règlement en retard") and fr["Content-Language"] == "fr"  # no earlier mail
    assert en["Subject"].startswith("Reminder: payment overdue") and en["Content-Language"] == "en"
    # the subject as a mail reader decodes it: no space lost between non-ASCII words ("retard— Client")
    assert f" — {fr['Subject'].split(' — ')[-1]}" in fr["Subject"] and "— " in fr["Subject"]
    assert not any(c + "—" in fr["Subject"] for c in "abcdefghijklmnopqrstuvwxyzéè")
    assert "Malgré" not in fr.get_content() and "Despite" not in en.get_content()
    fr_body, en_body = fr.get_content(), en.get_content()
    assert "FA-11" in fr_body and "FA-12" in fr_body and "650,00 €" in fr_body  # 400 open of 1000 + 250
    assert "EUR 3,000.00" in en_body
    assert fr["X-Lettrage-Outbox"] and fr["Message-ID"].startswith(f"<{fr['X-Lettrage-Outbox']}@")
    # the pay-now link is a sandbox Payment Link whose metadata carries the invoice numbers
    created = provider_sandbox.state.created_for("FR01").objects
    links = {o["url"]: o for o in created.values() if o.get("object") == "payment_link"}
    (link_url,) = [u for u in links if u in fr_body]
    assert links[link_url]["metadata"]["invoice_number"].split() == ["FA-11", "FA-12"]
    # the mandate customer got a GoCardless payment, not an email, with a key derived from the invoice
    payments = [o for o in created.values() if str(o.get("id", "")).startswith("PM")]
    assert [(p["amount"], p["links"]["mandate"], p["metadata"]["invoice_number"]) for p in payments] == \
        [(80000, "MD5", "FA-51")]
    assert report.failed == 0
    with connect(book) as engine:
        history = {(r[0], r[1]): r[2] for r in engine.query(
            "SELECT invoice_id, step, outcome FROM fct_dunning_action WHERE entity = 'FR01'")}
    assert history[("I11", "firmer")] == "sent" and history[("I12", "reminder")] == "sent"
    assert history[("I51", "direct_debit")] == "collection_requested"
    assert not {k for k in history if k[0] in ("I31", "I41", "I61", "I71", "I81", "I91")}


def test_running_twice_sends_nothing_new(book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any) -> None:
    box, port = smtp_server
    _run(book, port, provider_sandbox)
    first = box.ids()
    second = _run(book, port, provider_sandbox)
    assert box.ids() == first and second.sent == 0 and second.recorded == 0
    assert len(set(first)) == len(first)


@pytest.mark.parametrize("with_checker", [True, False], ids=["server_acceptance_checked", "no_checker_review"])
def test_killed_between_send_and_record_never_sends_twice(
        book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any, with_checker: bool) -> None:
    box, port = smtp_server
    env = dict(os.environ, **{CRASH_ENV: "after_smtp_accept"})
    child = subprocess.run(
        [sys.executable, str(CHILD), str(port), provider_sandbox.stripe_base, provider_sandbox.gocardless_base,
         STRIPE_KEY, GC_TOKEN], env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert len(box.messages) == 1  # the server accepted one message, then the process died
    crashed_id = box.messages[0]["X-Lettrage-Outbox"]
    report = _run(book, port, provider_sandbox, checker=box if with_checker else None)
    ids = box.ids()
    assert len(ids) == len(set(ids)), "a message was sent twice"
    assert ids.count(box.messages[0]["Message-ID"]) == 1
    with connect(book) as engine:
        state = engine.query("SELECT state FROM dunning_outbox WHERE message_id = :id", {"id": crashed_id})[0][0]
    assert state == ("sent" if with_checker else "review")
    assert report.recovered == ({"sent": 1, "requeued": 0, "review": 0} if with_checker
                                else {"sent": 0, "requeued": 0, "review": 1})
    assert report.sent >= 1  # the rest went out on the second run


def test_stale_reconciliation_refuses(book: WarehouseConfig) -> None:
    from datetime import UTC, datetime, timedelta

    from actions.dunning import StaleWarehouse

    with connect(book) as engine:
        with pytest.raises(StaleWarehouse, match="older than"):
            run_reminders(engine, "FR01", as_of=AS_OF, now=datetime.now(UTC) + timedelta(days=3))
        dry = run_reminders(engine, "FR01", as_of=AS_OF, now=datetime.now(UTC) + timedelta(days=3), dry_run=True)
        assert dry.stale and not engine.table_exists("dunning_outbox")
        rows = {r["invoice_number"]: r for r in dry.rows()}
        assert rows["FA-71"]["reason"].startswith("money on its way: GoCardless payment PM7 submitted")
        assert rows["FA-41"]["reason"] == "promise to pay until 2026-12-05"


def test_a_payment_rejected_for_an_invoice_is_no_money_on_its_way_to_it(book: WarehouseConfig) -> None:
    """A transfer naming FA-21 is money on its way to FA-21, until someone rejects it for FA-21 (the
    customer meant another invoice): then FA-21 is chased again."""
    from warehouse.reconcile import record_decision

    with connect(book) as engine:
        engine.execute(
            "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, "
            "reference, source_system, source_id) VALUES ('FR01', 'B9', 'bank_transfer', 'C2', 3000.00, 0, 'EUR', "
            "DATE '2026-11-24', 'succeeded', 'VIR FA-21', 'camt053', 'B9')")
        before = {r["invoice_number"]: r["reason"] for r in run_reminders(engine, "FR01", as_of=AS_OF, dry_run=True).rows()}
        record_decision(engine, entity="FR01", kind="reject_match", actor="rita", payment_id="B9", invoice_id="I21")
        after = {r["invoice_number"]: r["reason"] for r in run_reminders(engine, "FR01", as_of=AS_OF, dry_run=True).rows()}
    assert before["FA-21"].startswith("money on its way: bank line B9 received 2026-11-24")
    assert not after["FA-21"].startswith("money on its way")


def test_a_stripe_outage_sends_the_reminders_without_their_pay_now_link(
        book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any) -> None:
    """Stripe unreachable (nothing listens on the port): each reminder leaves without its link, none is held back."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    box, port = smtp_server
    with SmtpSender(SmtpSettings(port=port, security="none")) as smtp, connect(book) as engine:
        report = run_reminders(engine, "FR01", as_of=AS_OF, channels=Channels(
            smtp=smtp, paylinks=StripePayLinks(STRIPE_KEY, dead),
            gocardless=GoCardlessCollector(GC_TOKEN, provider_sandbox.gocardless_base)))
    mails = _to(box)
    assert report.failed == 0
    assert {"compta@client-un.fr", "ap@client-two.example"} <= set(mails)
    assert "FA-11" in mails["compta@client-un.fr"].get_content()
    assert "régler en ligne" not in mails["compta@client-un.fr"].get_content()
    assert "pay online" not in mails["ap@client-two.example"].get_content()


def test_calls_out_reach_the_api_the_entity_syncs_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Stripe and GoCardless base URLs of the sources file, unless the dunning settings name others."""
    from actions.dunning.providers import _base_url

    sources = tmp_path / "sources.yaml"
    sources.write_text("entities:\n  FR01:\n    stripe: {base_url: 'http://127.0.0.1:18302'}\n"
                       "    gocardless: {base_url: 'http://127.0.0.1:18301'}\n", encoding="utf-8")
    monkeypatch.setenv("LETTRAGE__SOURCES_FILE", str(sources))
    monkeypatch.delenv("DUNNING__STRIPE_BASE_URL", raising=False)
    monkeypatch.delenv("DUNNING__GOCARDLESS_BASE_URL", raising=False)
    assert (_base_url("stripe", "FR01"), _base_url("gocardless", "FR01")) == (
        "http://127.0.0.1:18302", "http://127.0.0.1:18301")
    assert _base_url("stripe", "DE01") is None  # not configured: the live API
    monkeypatch.setenv("DUNNING__STRIPE_BASE_URL", "http://127.0.0.1:9999")
    assert _base_url("stripe", "FR01") == "http://127.0.0.1:9999"
    monkeypatch.setenv("LETTRAGE__SOURCES_FILE", str(tmp_path / "missing.yaml"))
    assert _base_url("gocardless", "FR01") is None
