INSERT INTO {{ events_table }}
    (customer_key, run_id, try_number, attempt, event_at, outcome, http_status, api_status, message)
VALUES
    (:key, :run_id, :try_number, :attempt, :now, :outcome, :http_status, :api_status, :message)
