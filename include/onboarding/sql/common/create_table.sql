-- The contract's customer table. SQLite keeps timestamps as ISO-8601 UTC text and booleans as 0/1.
-- Jinja fills in identifiers, column types and the DDL's status literal (from status.Status) only.
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
    management_mode {{ types.boolean }},
    status TEXT NOT NULL DEFAULT '{{ pending }}',
    status_reason TEXT,
    avepoint_customer_id TEXT,
    api_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    requested_at {{ types.timestamp }} NOT NULL DEFAULT {{ types.now }},
    updated_at {{ types.timestamp }},
    claimed_by TEXT,
    claimed_at {{ types.timestamp }},
    previous_status TEXT
)
