-- The contract's tables. SQLite (the embedded default) keeps timestamps as ISO-8601 UTC text and
-- booleans as 0/1; PostgreSQL uses its own types.
{% set pg = dialect == "postgresql" %}
{% set timestamp = "TIMESTAMPTZ" if pg else "TEXT" %}
CREATE TABLE IF NOT EXISTS {{ table }} (
    customer_key TEXT PRIMARY KEY NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    registration_account TEXT NOT NULL,
    country_code TEXT NOT NULL,
    telephone_number TEXT,
    data_center TEXT NOT NULL,
    password TEXT,
    tags TEXT,
    management_mode {{ "BOOLEAN" if pg else "INTEGER" }},
    status TEXT NOT NULL DEFAULT 'pending',
    status_reason TEXT,
    avepoint_customer_id TEXT,
    api_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    requested_at {{ timestamp }} NOT NULL DEFAULT {{ "now()" if pg else "(strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))" }},
    updated_at {{ timestamp }},
    claimed_by TEXT,
    claimed_at {{ timestamp }},
    previous_status TEXT
);
CREATE INDEX IF NOT EXISTS {{ index_name('status') }} ON {{ table }} (status, requested_at);
CREATE INDEX IF NOT EXISTS {{ index_name('claimed_by') }} ON {{ table }} (claimed_by);
{% if pg %}
-- The rows a claim may take, in claim order (see postgresql/claim.sql): a claim reads `limit`
-- index entries instead of sorting every waiting row, and the index stays small once most rows
-- are final. SQLite's claim orders by julianday() and could not use it.
CREATE INDEX IF NOT EXISTS {{ index_name('claimable') }} ON {{ table }} (requested_at, customer_key)
    WHERE status IN ('pending', 'retry', 'in_progress');
{% endif %}
CREATE TABLE IF NOT EXISTS {{ events_table }} (
    event_id {{ "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT" }},
    customer_key TEXT NOT NULL,
    run_id TEXT,
    try_number INTEGER,
    attempt INTEGER,
    event_at {{ timestamp }} NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    api_status INTEGER,
    message TEXT
);
CREATE INDEX IF NOT EXISTS {{ index_name('events_key') }} ON {{ events_table }} (customer_key);
CREATE INDEX IF NOT EXISTS {{ index_name('events_run') }} ON {{ events_table }} (run_id, outcome);
