-- The alert went out (or its channel is gone): it is never sent again.
UPDATE {{ alerts_table }}
SET sent_at = :now,
    outcome = :outcome,
    sending_by = NULL,
    last_error = :error
WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
  AND sending_by = :holder
