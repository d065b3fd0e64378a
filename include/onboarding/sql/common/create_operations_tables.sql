-- The operations tables beside the customer table (see ops_store.py), one text for every dialect:
-- the type macros say what differs.
-- Alerts owed and sent, one row per DAG, run and channel: the durable "alert sent for run X" marker.
-- outcome: NULL while owed, then sent, dropped (its channel is no longer configured) or dead (set
-- aside after too many failed attempts; a person re-owes it by setting outcome NULL, attempts 0).
CREATE TABLE IF NOT EXISTS {{ alerts_table }} (
    dag_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at {{ types.timestamp }} NOT NULL,
    payload TEXT NOT NULL,
    sending_by TEXT,
    sending_at {{ types.timestamp }},
    sent_at {{ types.timestamp }},
    outcome TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (dag_id, run_id, channel)
);
-- What each reconciliation run found, one row per finding per run; state: new, changed, standing,
-- acknowledged (quiet), closed (no longer found) or baseline (found by the first reconciliation;
-- not drift after it).
CREATE TABLE IF NOT EXISTS {{ drift_table }} (
    drift_id {{ types.serial_key }},
    run_id TEXT NOT NULL,
    found_at {{ types.timestamp }} NOT NULL,
    kind TEXT NOT NULL,
    customer_key TEXT,
    avepoint_customer_id TEXT,
    detail TEXT NOT NULL,
    state TEXT
);
CREATE INDEX IF NOT EXISTS {{ index_name('drift_run') }} ON {{ drift_table }} (run_id);
-- Each finding's life, one row per finding (kind, customer key, AvePoint id): when it was first and
-- last found, when a run no longer found it, and who acknowledged it (then it stays quiet).
CREATE TABLE IF NOT EXISTS {{ drift_state_table }} (
    finding_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_key TEXT,
    avepoint_customer_id TEXT,
    detail TEXT NOT NULL,
    first_run_id TEXT NOT NULL,
    first_seen_at {{ types.timestamp }} NOT NULL,
    last_run_id TEXT NOT NULL,
    last_seen_at {{ types.timestamp }} NOT NULL,
    closed_run_id TEXT,
    closed_at {{ types.timestamp }},
    acknowledged_by TEXT,
    acknowledged_at {{ types.timestamp }}
);
