-- An alert this run owes on one channel; a retried finish finds it there and adds nothing.
INSERT INTO {{ alerts_table }} (dag_id, run_id, channel, created_at, payload, attempts)
SELECT :dag_id, :run_id, :channel, :now, :payload, 0
FROM DUAL
WHERE NOT EXISTS (
    SELECT 1 FROM {{ alerts_table }} WHERE dag_id = :dag_id AND run_id = :run_id AND channel = :channel
)
