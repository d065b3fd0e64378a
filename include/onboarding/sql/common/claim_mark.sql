-- The claim where an UPDATE cannot return rows (MySQL, Snowflake): mark the picked rows as this
-- run's, re-checking every condition of the pick. On Snowflake, which has no row locks, this
-- re-check is what keeps a claim exactly-once: DML on one table is serialised, so this UPDATE runs
-- on what a concurrent claim committed, and a row it took is no longer claimable here.
UPDATE {{ table }}
SET previous_status = CASE WHEN status = :in_progress THEN previous_status ELSE status END,
    status = :in_progress,
    status_reason = :reason,
    claimed_by = :run_id,
    claimed_at = :now,
    updated_at = :now
WHERE customer_key IN :picked
  AND status IN :claimable
  AND (status <> :in_progress OR claimed_at < :stale_before)
  AND requested_at < :interval_end
