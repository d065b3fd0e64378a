-- The operations tables beside the customer table (see ops_store.py and the common version of this
-- file for what each holds), with MySQL's types: keys short enough to index, utf8mb4 compared byte
-- for byte, DATETIME(6) in UTC.
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
    state VARCHAR(32),
    KEY {{ index_name('drift_run') }} (run_id)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {{ drift_state_table }} (
    finding_key VARCHAR(700) NOT NULL PRIMARY KEY,
    kind VARCHAR(64) NOT NULL,
    customer_key VARCHAR(255),
    avepoint_customer_id VARCHAR(64),
    detail TEXT NOT NULL,
    first_run_id VARCHAR(250) NOT NULL,
    first_seen_at DATETIME(6) NOT NULL,
    last_run_id VARCHAR(250) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    closed_run_id VARCHAR(250),
    closed_at DATETIME(6),
    acknowledged_by VARCHAR(200),
    acknowledged_at DATETIME(6)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
