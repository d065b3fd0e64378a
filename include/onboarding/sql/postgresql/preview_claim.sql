-- What claim.sql would take, changing nothing (a dry run).
SELECT customer_key
FROM {{ table }}
WHERE status IN ({{ claimable }})
  AND (status <> :in_progress OR claimed_at < :stale_before)
  AND requested_at < :interval_end
  AND (:all_keys OR customer_key IN :keys)
ORDER BY requested_at, customer_key
LIMIT :limit
