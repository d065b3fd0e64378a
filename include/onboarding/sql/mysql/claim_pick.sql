-- The rows a claim takes, locked: FOR UPDATE SKIP LOCKED (MySQL >= 8.0, MariaDB >= 10.6) skips rows
-- a concurrent claim is taking instead of waiting for them. One branch per claimable status, each
-- walking the (status, requested_at, customer_key) index in claim order and stopping after `limit`
-- rows (MySQL has no partial index; one `status IN (...)` would read and lock every waiting row to
-- sort them). Rows a branch locked beyond the overall `limit` are released at commit.
SELECT customer_key, requested_at FROM (
    (SELECT customer_key, requested_at FROM {{ table }}
     WHERE status = :pending AND requested_at < :interval_end AND (:all_keys OR customer_key IN :keys)
     ORDER BY requested_at, customer_key LIMIT :limit
     FOR UPDATE SKIP LOCKED)
    UNION ALL
    (SELECT customer_key, requested_at FROM {{ table }}
     WHERE status = :retry AND requested_at < :interval_end AND (:all_keys OR customer_key IN :keys)
     ORDER BY requested_at, customer_key LIMIT :limit
     FOR UPDATE SKIP LOCKED)
    UNION ALL
    (SELECT customer_key, requested_at FROM {{ table }}
     WHERE status = :in_progress AND claimed_at < :stale_before AND requested_at < :interval_end
       AND (:all_keys OR customer_key IN :keys)
     ORDER BY requested_at, customer_key LIMIT :limit
     FOR UPDATE SKIP LOCKED)
) AS picked
ORDER BY requested_at, customer_key
LIMIT :limit
