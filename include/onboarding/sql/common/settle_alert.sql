-- The alert went out (sent), its channel is gone (dropped) or it failed too often (dead): it is
-- never sent again. sent_at is set for a sent alert only.
UPDATE {{ alerts_table }}
SET outcome = :outcome,
    sent_at = :sent_at,
    sending_by = NULL,
    last_error = :error
WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
  AND sending_by = :holder
