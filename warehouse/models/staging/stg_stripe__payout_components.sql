-- What each Stripe payout nets: its balance transactions, classified by
-- reporting_category (not type, as Stripe recommends). amount is the gross
-- contribution, fee what Stripe kept: sum(amount - fee) = payout amount.
-- A failed payout keeps its composition (Stripe lists an automatic payout's transactions
-- under it whether it was paid or failed): the charges it swept, with their fees. Its money
-- came back to the balance as one payout_failure transaction (reporting category
-- payout_reversal, source the failed payout) that a later payout lists: that line names the
-- failed payout in failed_payout_id, so the later payout's bank credit leads to the charges.
-- shape: payout_components
-- requires: raw_stripe_balance_transactions
SELECT
    bt.entity,
    bt.payout AS payout_id,
    bt.id AS component_id,
    bt.reporting_category AS kind,
    CASE
        WHEN bt.source LIKE 'ch\_%' ESCAPE '\' OR bt.source LIKE 'py\_%' ESCAPE '\' THEN bt.source
        {% if has('raw_stripe_refunds') %}WHEN r.charge IS NOT NULL THEN r.charge{% endif %}
        {% if has('raw_stripe_disputes') %}WHEN d.charge IS NOT NULL THEN d.charge{% endif %}
        ELSE NULL
    END AS payment_id,
    {{ minor_to_decimal('bt.amount', 'bt.currency') }} AS amount,
    {{ minor_to_decimal('bt.fee', 'bt.currency') }} AS fee,
    upper(bt.currency) AS currency,
    'balance_transactions' AS provenance,
    CASE WHEN bt.reporting_category = 'payout_reversal' AND bt.source LIKE 'po\_%' ESCAPE '\' THEN bt.source
    END AS failed_payout_id,
    'stripe' AS source_system,
    bt.id AS source_id
FROM raw_stripe_balance_transactions AS bt
{% if has('raw_stripe_refunds') %}LEFT JOIN raw_stripe_refunds AS r ON r.id = bt.source{% endif %}
{% if has('raw_stripe_disputes') %}LEFT JOIN raw_stripe_disputes AS d ON d.id = bt.source{% endif %}
WHERE bt.payout IS NOT NULL AND bt.reporting_category <> 'payout'
