-- A row this run holds broke validation (or cannot form a request: then the attempt that
-- begin_attempt counted in the same transaction is taken back, since nothing was sent).
-- The key may be bound as bytes: a SQLite key that is not UTF-8 is addressed by what is stored.
UPDATE {{ table }}
SET status = :invalid,
    status_reason = :reason,
    attempts = attempts - :undo_attempts,
    updated_at = :now
WHERE customer_key = CAST(:key AS {{ types.text }})
  AND claimed_by = :run_id
  AND status = :in_progress
