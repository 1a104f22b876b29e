"""Run one reminder pass in a child process (the crash tests kill it with SIGKILL at a hook point)."""

from __future__ import annotations

import sys
from datetime import date

from actions.dunning import Channels, SmtpSender, SmtpSettings, run_reminders
from actions.dunning.providers import GoCardlessCollector, StripePayLinks
from warehouse.engine import connect

if __name__ == "__main__":
    port, stripe_base, gc_base, stripe_key, gc_token = sys.argv[1:6]
    with SmtpSender(SmtpSettings(port=int(port), security="none")) as smtp, connect() as engine:
        run_reminders(engine, "FR01", as_of=date(2026, 11, 25), channels=Channels(
            smtp=smtp, paylinks=StripePayLinks(stripe_key, stripe_base), gocardless=GoCardlessCollector(gc_token, gc_base)))
