-- The append-only events table: one row per attempt, release, recovery or stop.
CREATE TABLE IF NOT EXISTS {{ events_table }} (
    event_id BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_key VARCHAR(255) NOT NULL,
    run_id VARCHAR(250),
    try_number INTEGER,
    attempt INTEGER,
    event_at DATETIME(6) NOT NULL,
    outcome VARCHAR(32) NOT NULL,
    http_status INTEGER,
    api_status INTEGER,
    message TEXT,
    KEY {{ index_name('events_key') }} (customer_key),
    KEY {{ index_name('events_run') }} (run_id, outcome)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
