-- Auto-match rate per entity: of the cash payments received by as_of (channel other than the
-- ERP's own receipts, status succeeded), how many Lettrage applied automatically, how many a
-- person confirmed, how many wait as suggestions. A payment counts once per state it has a
-- match in (a split payment with an auto and a confirmed part counts in both).
-- Why a mart: the desk's dashboard shows this figure on every view, and counting it from
-- fct_match scans a million rows (1.6 s on Postgres at 1M invoices); the mart step already
-- runs after every reconciliation (nightly and after each desk decision), so the count is
-- made once there and every reader gets the same row.
WITH states AS (
    SELECT entity, payment_id,
           max(CASE WHEN state = 'auto' THEN 1 ELSE 0 END) AS is_auto,
           max(CASE WHEN state = 'confirmed' THEN 1 ELSE 0 END) AS is_confirmed,
           max(CASE WHEN state = 'suggested' THEN 1 ELSE 0 END) AS is_suggested
    FROM fct_match
    GROUP BY entity, payment_id
),
counted AS (
    SELECT p.entity, count(*) AS payments,
           coalesce(sum(s.is_auto), 0) AS auto_matched,
           coalesce(sum(s.is_confirmed), 0) AS confirmed,
           coalesce(sum(s.is_suggested), 0) AS suggested
    FROM fct_payment AS p
    LEFT JOIN states AS s ON s.entity = p.entity AND s.payment_id = p.payment_id
    WHERE p.channel <> 'erp' AND p.status = 'succeeded' AND p.paid_on <= {{ d(as_of) }}
    GROUP BY p.entity
)
SELECT
    {{ d(as_of) }} AS as_of, c.entity, c.payments, c.auto_matched, c.confirmed, c.suggested,
    {{ ratio('c.auto_matched', 'c.payments') }} AS auto_match_rate,
    now() AS _loaded_at
FROM counted AS c
