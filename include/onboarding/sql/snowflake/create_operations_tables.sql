-- The operations tables beside the customer table (see ops_store.py and the common version of this
-- file for what each holds). Snowflake has no indexes and does not enforce primary keys:
-- owe_alert.sql's MERGE keeps one alert per DAG, run and channel; open_finding runs after
-- forget_closed_finding in one transaction, and only reconciliation writes findings.
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
    detail TEXT NOT NULL,
    state TEXT
);
CREATE TABLE IF NOT EXISTS {{ drift_state_table }} (
    finding_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_key TEXT,
    avepoint_customer_id TEXT,
    detail TEXT NOT NULL,
    first_run_id TEXT NOT NULL,
    first_seen_at TIMESTAMP_NTZ NOT NULL,
    last_run_id TEXT NOT NULL,
    last_seen_at TIMESTAMP_NTZ NOT NULL,
    closed_run_id TEXT,
    closed_at TIMESTAMP_NTZ,
    acknowledged_by TEXT,
    acknowledged_at TIMESTAMP_NTZ
)
