-- The last per_row events of each row in the given statuses, newest first.
SELECT customer_key, event_at, run_id, try_number, attempt, outcome, http_status, api_status, message
FROM (
    SELECT e.customer_key, e.event_at, e.run_id, e.try_number, e.attempt, e.outcome, e.http_status,
           e.api_status, e.message,
           ROW_NUMBER() OVER (PARTITION BY e.customer_key ORDER BY e.event_id DESC) AS newest
    FROM {{ events_table }} e
    WHERE e.customer_key IN (SELECT customer_key FROM {{ table }} WHERE status IN :statuses)
) ranked
WHERE newest <= :per_row
ORDER BY customer_key, newest
