-- lease_alert's row, read back where an UPDATE cannot return it (the update holds the row).
SELECT payload, attempts
FROM {{ alerts_table }}
WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
  AND sending_by = :holder
