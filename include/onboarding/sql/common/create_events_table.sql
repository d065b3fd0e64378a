-- The append-only events table: one row per attempt, release, recovery or stop.
CREATE TABLE IF NOT EXISTS {{ events_table }} (
    event_id {{ types.serial_key }},
    customer_key TEXT NOT NULL,
    run_id TEXT,
    try_number INTEGER,
    attempt INTEGER,
    event_at {{ types.timestamp }} NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    api_status INTEGER,
    message TEXT
);
CREATE INDEX IF NOT EXISTS {{ index_name('events_key') }} ON {{ events_table }} (customer_key);
CREATE INDEX IF NOT EXISTS {{ index_name('events_run') }} ON {{ events_table }} (run_id, outcome);
