-- What claim.sql would take, changing nothing (a dry run).
SELECT customer_key
FROM {{ table }}
WHERE status IN :claimable
  AND (status <> :in_progress OR julianday(claimed_at) < julianday(:stale_before))
  AND julianday(requested_at) < julianday(:interval_end)
  AND (:all_keys OR customer_key IN :keys)
ORDER BY julianday(requested_at), customer_key
LIMIT :limit
