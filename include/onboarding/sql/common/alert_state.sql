SELECT dag_id, run_id, channel, sent_at, outcome, attempts, last_error
FROM {{ alerts_table }}
WHERE dag_id = :dag_id AND run_id = :run_id
ORDER BY channel
