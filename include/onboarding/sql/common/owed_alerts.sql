-- Alerts not sent yet and not being sent by someone else right now: per channel, oldest first, at
-- most per_channel of each (one channel's backlog never holds back another's).
SELECT dag_id, run_id, channel
FROM (
    SELECT dag_id, run_id, channel, created_at,
           ROW_NUMBER() OVER (PARTITION BY channel ORDER BY created_at, dag_id, run_id) AS place
    FROM {{ alerts_table }}
    WHERE outcome IS NULL
      AND (sending_at IS NULL OR sending_at < :stale_before)
) owed
WHERE place <= :per_channel
ORDER BY channel, place
