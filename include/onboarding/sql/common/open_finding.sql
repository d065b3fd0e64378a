INSERT INTO {{ drift_state_table }} (
    finding_key, kind, customer_key, avepoint_customer_id, detail,
    first_run_id, first_seen_at, last_run_id, last_seen_at, acknowledged_by, acknowledged_at
)
VALUES (
    :finding_key, :kind, :customer_key, :customer_id, :detail,
    :run_id, :now, :run_id, :now, :acknowledged_by, :acknowledged_at
)
