-- Atomically move this run's rows to in_progress and return them.
-- Runs inside BEGIN IMMEDIATE: SQLite admits one writer at a time, so a concurrent run waits
-- (busy timeout) and then sees these rows already claimed. julianday() compares timestamps
-- whatever ISO-8601 spelling the loader used (warehouse._settle_unreadable_requested_at rewrites
-- the spellings it cannot read, "+0000" or " UTC", first; an unreadable value makes the row invalid).
-- The partial "claimable" index holds julianday(requested_at) in claim order (see create_indexes.sql):
-- a claim reads `limit` entries instead of sorting every waiting row. INDEXED BY, because without
-- ANALYZE statistics the planner prefers the status index and sorts; the statuses are literals,
-- since SQLite matches a partial index's predicate to a query's as written.
UPDATE {{ table }}
SET previous_status = CASE WHEN status = :in_progress THEN previous_status ELSE status END,
    status = :in_progress,
    status_reason = :reason,
    claimed_by = :run_id,
    claimed_at = :now,
    updated_at = :now
WHERE customer_key IN (
    SELECT customer_key
    FROM {{ table }} INDEXED BY {{ index_name('claimable') }}
    WHERE status IN ({{ claimable }})
      AND (status <> :in_progress OR julianday(claimed_at) < julianday(:stale_before))
      AND julianday(requested_at) < julianday(:interval_end)
      AND (:all_keys OR customer_key IN :keys)
    ORDER BY julianday(requested_at), customer_key
    LIMIT :limit
)
-- raw_key: the key's stored bytes, to address a row whose key is not UTF-8 (never decoded).
RETURNING customer_key, CAST(customer_key AS BLOB) AS raw_key
