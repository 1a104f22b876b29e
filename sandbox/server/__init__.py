"""Local Stripe and GoCardless over HTTP on 127.0.0.1, serving a world written by ``sandbox.world``.

    with serve(Path("sample_data")) as sb:
        stripe.StripeClient("sk_test_sandbox_FR01", base_addresses={"api": sb.stripe_base})
        gocardless_pro.Client(access_token="sandbox_FR01_token", base_url=sb.gocardless_base)
        sb.faults.set(rate_limit=3, retry_after=0.1)

Never imported by product code.
"""

from __future__ import annotations

from sandbox.server.faults import FaultPlan, Faults
from sandbox.server.runner import FaultControl, RunningSandbox, serve

__all__ = ["FaultControl", "FaultPlan", "Faults", "RunningSandbox", "serve"]
