-- Sending failed (a mail server down): the alert stays owed for a later finish.
UPDATE {{ alerts_table }}
SET sending_by = NULL,
    sending_at = NULL,
    last_error = :error
WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
  AND sending_by = :holder
