-- The operations tables beside the customer table (see ops_store.py): alerts owed and sent, one
-- row per run and channel (the durable "alert sent for run X" marker), and reconciliation findings.
CREATE TABLE IF NOT EXISTS {{ alerts_table }} (
    dag_id VARCHAR(250) NOT NULL,
    run_id VARCHAR(250) NOT NULL,
    channel VARCHAR(100) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    payload TEXT NOT NULL,
    sending_by VARCHAR(64),
    sending_at DATETIME(6),
    sent_at DATETIME(6),
    outcome VARCHAR(32),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (dag_id, run_id, channel)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {{ drift_table }} (
    drift_id BIGINT AUTO_INCREMENT PRIMARY KEY,
    run_id VARCHAR(250) NOT NULL,
    found_at DATETIME(6) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    customer_key VARCHAR(255),
    avepoint_customer_id VARCHAR(64),
    detail TEXT NOT NULL,
    KEY {{ index_name('drift_run') }} (run_id)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
