-- The key may be bound as bytes (a SQLite key that is not UTF-8): stored as the table holds it.
INSERT INTO {{ events_table }}
    (customer_key, run_id, try_number, attempt, event_at, outcome, http_status, api_status, message)
VALUES
    (CAST(:key AS {{ types.text }}), :run_id, :try_number, :attempt, :now, :outcome, :http_status, :api_status, :message)
