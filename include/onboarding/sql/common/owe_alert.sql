-- An alert this run owes on one channel; a retried finish finds it there and adds nothing.
INSERT INTO {{ alerts_table }} (dag_id, run_id, channel, created_at, payload, attempts)
VALUES (:dag_id, :run_id, :channel, :now, :payload, 0)
ON CONFLICT (dag_id, run_id, channel) DO NOTHING
