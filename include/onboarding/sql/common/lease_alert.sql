-- Take one owed alert for sending, atomically: two senders never both send it. A lease that is
-- still fresh (its holder may have sent the mail and died before marking it) is left alone.
UPDATE {{ alerts_table }}
SET sending_by = :holder,
    sending_at = :now,
    attempts = attempts + 1
WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
  AND outcome IS NULL
  AND (sending_at IS NULL OR sending_at < :stale_before)
{{ returning('payload, attempts') }}
