-- The operations tables beside the customer table (see ops_store.py): alerts owed and sent, one
-- row per run and channel (the durable "alert sent for run X" marker), and reconciliation findings.
-- Snowflake does not enforce the primary key: owe_alert.sql's MERGE keeps it.
CREATE TABLE IF NOT EXISTS {{ alerts_table }} (
    dag_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at TIMESTAMP_NTZ NOT NULL,
    payload TEXT NOT NULL,
    sending_by TEXT,
    sending_at TIMESTAMP_NTZ,
    sent_at TIMESTAMP_NTZ,
    outcome TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (dag_id, run_id, channel)
);
CREATE TABLE IF NOT EXISTS {{ drift_table }} (
    drift_id {{ types.serial_key }},
    run_id TEXT NOT NULL,
    found_at TIMESTAMP_NTZ NOT NULL,
    kind TEXT NOT NULL,
    customer_key TEXT,
    avepoint_customer_id TEXT,
    detail TEXT NOT NULL
)
