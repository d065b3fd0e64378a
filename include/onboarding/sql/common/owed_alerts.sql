-- Alerts not sent yet and not being sent by someone else right now, oldest first.
SELECT dag_id, run_id, channel
FROM {{ alerts_table }}
WHERE sent_at IS NULL
  AND (sending_at IS NULL OR sending_at < :stale_before)
ORDER BY created_at, dag_id, run_id, channel
LIMIT :limit
