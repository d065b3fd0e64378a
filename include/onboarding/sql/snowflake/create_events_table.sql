-- The append-only events table: one row per attempt, release, recovery or stop. AUTOINCREMENT
-- ORDER: stop_reason and the report read events in the order they were written.
CREATE TABLE IF NOT EXISTS {{ events_table }} (
    event_id {{ types.serial_key }},
    customer_key TEXT NOT NULL,
    run_id TEXT,
    try_number INTEGER,
    attempt INTEGER,
    event_at TIMESTAMP_NTZ NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    api_status INTEGER,
    message TEXT
)
