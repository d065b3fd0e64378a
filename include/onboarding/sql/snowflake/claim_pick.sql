-- The rows a claim means to take, oldest first. Snowflake has no row locks, so nothing is held
-- here: claim_mark.sql re-checks every one of these conditions in a single UPDATE, which Snowflake
-- runs after any concurrent DML on the table has committed, and claim_read.sql reads back which of
-- the rows this run got. A concurrent claim can make this run get fewer rows, never a row twice.
SELECT customer_key
FROM {{ table }}
WHERE status IN :claimable
  AND (status <> :in_progress OR claimed_at < :stale_before)
  AND requested_at < :interval_end
  AND (:all_keys OR customer_key IN :keys)
ORDER BY requested_at, customer_key
LIMIT :limit
