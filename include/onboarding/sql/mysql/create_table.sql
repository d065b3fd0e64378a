-- The contract's customer table on MySQL/MariaDB: utf8mb4 text compared byte for byte (keys that
-- differ in case are different customers), DATETIME(6) in UTC, keys and statuses short enough to index.
CREATE TABLE IF NOT EXISTS {{ table }} (
    customer_key VARCHAR(255) NOT NULL PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    registration_account VARCHAR(320) NOT NULL,
    country_code VARCHAR(8) NOT NULL,
    telephone_number VARCHAR(64),
    data_center VARCHAR(64) NOT NULL,
    password TEXT,
    tags TEXT,
    management_mode BOOLEAN,
    status VARCHAR(32) NOT NULL DEFAULT '{{ pending }}',
    status_reason TEXT,
    avepoint_customer_id VARCHAR(64),
    api_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    requested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6),
    claimed_by VARCHAR(255),
    claimed_at DATETIME(6),
    previous_status VARCHAR(32)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
