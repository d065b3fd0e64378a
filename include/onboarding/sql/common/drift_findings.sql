SELECT kind, customer_key, avepoint_customer_id, detail
FROM {{ drift_table }}
WHERE run_id = :run_id
ORDER BY drift_id
