"""Calls out to Stripe (pay-now links) and GoCardless (direct-debit payments) through their official SDKs.

Credentials are the connectors' (``SOURCES__STRIPE__<ENTITY>__API_KEY``,
``SOURCES__GOCARDLESS__<ENTITY>__ACCESS_TOKEN``), and so is the API they reach: the entity's
``base_url`` in the sources file, unless ``DUNNING__STRIPE_BASE_URL`` / ``DUNNING__GOCARDLESS_BASE_URL``
say otherwise (a sandbox's key sent to the live API would be refused at best). Both calls carry idempotency keys derived from
the outbox, so a replay after a crash returns what was created instead of a twin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe

from connectors.registry import load_sources_config
from lettrage.config import dlt_setting
from lettrage.errors import ConfigurationError, PermanentSourceError, TransientSourceError
from lettrage.logging import register_secret
from lettrage.money import to_minor

log = logging.getLogger("lettrage.actions.dunning")


def _secret(source: str, entity: str, name: str) -> str | None:
    value = dlt_setting(f"sources.{source}.{entity}.{name}", secret=True)
    if value is not None:
        register_secret(value)
    return value


def _base_url(source: str, entity: str) -> str | None:
    """Where the calls out for ``entity`` go: ``dunning.<source>_base_url``, else the base URL the entity's source
    syncs from (sources file), else the provider's live API (None)."""
    explicit = dlt_setting(f"dunning.{source}_base_url")
    if explicit:
        return str(explicit)
    try:
        settings = load_sources_config().entities.get(entity, {}).get(source)
    except ConfigurationError:  # no sources file (a desk-only or test setup): the live API
        return None
    return settings.base_url if settings is not None else None


def paylink_key(message_id: str) -> str:
    return f"lettrage-paylink-{message_id}"


def direct_debit_key(entity: str, invoice_id: str) -> str:
    return f"lettrage-dd-{entity}-{invoice_id}"


@dataclass
class StripePayLinks:
    """Stripe Payment Links whose metadata carries the invoice numbers (the Stripe connector reads them back)."""

    api_key: str
    base_url: str | None = None

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        self.client = stripe.StripeClient(
            self.api_key, base_addresses={"api": (self.base_url or stripe.DEFAULT_API_BASE).rstrip("/")},
            max_network_retries=2)

    @classmethod
    def for_entity(cls, entity: str) -> StripePayLinks | None:
        key = _secret("stripe", entity, "api_key")
        return cls(key, _base_url("stripe", entity)) if key else None

    def create(self, *, message_id: str, entity: str, customer_id: str | None, invoice_numbers: list[str],
               amount: Decimal, currency: str, description: str) -> str:
        numbers = " ".join(invoice_numbers)
        metadata = {"invoice_number": numbers, "erp_customer_id": customer_id or "", "entity": entity,
                    "lettrage_outbox": message_id}
        params: dict[str, Any] = {
            "line_items": [{"quantity": 1, "price_data": {
                "currency": currency.lower(), "unit_amount": to_minor(amount, currency),
                "product_data": {"name": description[:250]}}}],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": f"Facture {numbers}"},
        }
        try:
            link = self.client.v1.payment_links.create(params=params,  # type: ignore[arg-type]
                                                       options={"idempotency_key": paylink_key(message_id)})
        except stripe.AuthenticationError as exc:
            raise PermanentSourceError(f"Stripe refused the API key of {entity}: {exc}") from exc
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise TransientSourceError(f"Stripe payment link for {message_id}: {exc}") from exc
        except stripe.StripeError as exc:  # (refused as asked: an account without Payment Links, a bad parameter)
            raise PermanentSourceError(f"Stripe refused the payment link for {message_id}: {exc}") from exc
        return str(link.url)


@dataclass
class GoCardlessCollector:
    """Creates the direct-debit payment of an invoice; the idempotency key is derived from entity + invoice."""

    access_token: str
    base_url: str | None = None

    def __post_init__(self) -> None:
        import gocardless_pro

        register_secret(self.access_token)
        if self.base_url:
            self.client = gocardless_pro.Client(access_token=self.access_token, base_url=self.base_url)
        else:
            self.client = gocardless_pro.Client(access_token=self.access_token, environment="live")
        if self.base_url:  # keep a path prefix (the SDK's urljoin would drop it)
            api = self.client._api_client
            api.base_url = self.base_url.rstrip("/")
            api._url_for = lambda path: api.base_url + api._validate_path(path)  # type: ignore[method-assign]

    @classmethod
    def for_entity(cls, entity: str) -> GoCardlessCollector | None:
        token = _secret("gocardless", entity, "access_token")
        return cls(token, _base_url("gocardless", entity)) if token else None

    def collect(self, *, entity: str, invoice_id: str, invoice_number: str, customer_id: str, mandate_id: str,
                amount: Decimal, currency: str) -> str:
        import gocardless_pro.errors as gc_errors

        params = {"amount": to_minor(amount, currency), "currency": currency.upper(),
                  "description": f"Facture {invoice_number}", "reference": invoice_number[:140],
                  "links": {"mandate": mandate_id},
                  "metadata": {"invoice_number": invoice_number, "erp_customer_id": customer_id}}
        try:  # on a replayed key the SDK fetches the payment created the first time
            payment = self.client.payments.create(params=params,
                                                  headers={"Idempotency-Key": direct_debit_key(entity, invoice_id)})
        except gc_errors.GoCardlessProError as exc:
            raise PermanentSourceError(f"GoCardless refused the payment of {invoice_number}: {exc}") from exc
        except OSError as exc:
            raise TransientSourceError(f"GoCardless payment of {invoice_number}: {exc}") from exc
        return str(payment.id)


def require(value: Any, what: str) -> Any:
    if value is None:
        raise ConfigurationError(what)
    return value
