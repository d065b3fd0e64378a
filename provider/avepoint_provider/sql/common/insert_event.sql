INSERT INTO {{ events_table }}
    (customer_key, run_id, try_number, attempt, event_at, outcome, http_status, api_status, message)
VALUES
    ({{ bind('key') }}, {{ bind('run_id') }}, {{ bind('try_number') }}, {{ bind('attempt') }},
     {{ bind('now') }}, {{ bind('outcome') }}, {{ bind('http_status') }}, {{ bind('api_status') }},
     {{ bind('message') }})
