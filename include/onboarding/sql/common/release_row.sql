-- Give one row back untouched: the status it had before this run claimed it.
UPDATE {{ table }}
SET status = COALESCE(previous_status, :pending),
    status_reason = :reason,
    attempts = attempts - :undo_attempts,
    updated_at = :now
WHERE claimed_by = :run_id
  AND status = :in_progress
  AND customer_key = :key
{{ returning('customer_key, status, attempts') }}
