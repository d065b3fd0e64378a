-- An alert this run owes on one channel; a retried finish finds it there and adds nothing.
MERGE INTO {{ alerts_table }} AS a
USING (SELECT :dag_id AS dag_id, :run_id AS run_id, :channel AS channel) AS n
ON a.dag_id = n.dag_id AND a.run_id = n.run_id AND a.channel = n.channel
WHEN NOT MATCHED THEN INSERT (dag_id, run_id, channel, created_at, payload, attempts)
VALUES (:dag_id, :run_id, :channel, :now, :payload, 0)
