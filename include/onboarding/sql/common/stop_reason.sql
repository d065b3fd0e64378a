-- Set when an onboarding task of this run met a configuration error (401/403/404).
SELECT message FROM {{ events_table }}
WHERE run_id = :run_id AND outcome = :stopped
ORDER BY event_id
LIMIT 1
