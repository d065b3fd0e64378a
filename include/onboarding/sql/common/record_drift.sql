INSERT INTO {{ drift_table }} (run_id, found_at, kind, customer_key, avepoint_customer_id, detail, state)
VALUES (:run_id, :now, :kind, :customer_key, :customer_id, :detail, :state)
