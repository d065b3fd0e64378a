-- A row this run holds broke validation (or cannot form a request: then the attempt that
-- begin_attempt counted in the same transaction is taken back, since nothing was sent).
UPDATE {{ table }}
SET status = :invalid,
    status_reason = :reason,
    attempts = attempts - :undo_attempts,
    updated_at = :now
WHERE customer_key = :key
  AND claimed_by = :run_id
  AND status = :in_progress
