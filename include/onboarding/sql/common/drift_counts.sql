-- What a run already recorded (a retried reconciliation returns it rather than comparing again).
SELECT kind, state, COUNT(*) AS n
FROM {{ drift_table }}
WHERE run_id = :run_id
GROUP BY kind, state
