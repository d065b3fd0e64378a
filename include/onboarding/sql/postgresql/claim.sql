-- Atomically move this run's rows to in_progress and return them, oldest first.
-- FOR UPDATE SKIP LOCKED: a concurrent run (a backfill beside a scheduled run) skips rows another
-- transaction is claiming instead of waiting for or re-taking them; PostgreSQL re-checks the WHERE
-- clause on a row that changed before it was locked. The status literals (from status.CLAIMABLE)
-- repeat the partial "claimable" index's predicate, so the planner can walk that index in claim
-- order and stop after `limit` rows; a stale in_progress row is filtered by its heartbeat.
WITH picked AS (
    SELECT customer_key
    FROM {{ table }}
    WHERE status IN ({{ claimable }})
      AND (status <> :in_progress OR claimed_at < :stale_before)
      AND requested_at < :interval_end
      AND (:all_keys OR customer_key IN :keys)
    ORDER BY requested_at, customer_key
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE {{ table }} AS t
    SET previous_status = CASE WHEN t.status = :in_progress THEN t.previous_status ELSE t.status END,
        status = :in_progress,
        status_reason = :reason,
        claimed_by = :run_id,
        claimed_at = :now,
        updated_at = :now
    WHERE t.customer_key = ANY (ARRAY(SELECT customer_key FROM picked))
    RETURNING t.customer_key, t.requested_at
)
SELECT customer_key FROM claimed ORDER BY requested_at, customer_key
