-- Rows this run had to recover (its task died): durable, so a retried finish still sees them.
SELECT COUNT(*) AS n FROM {{ events_table }}
WHERE run_id = :run_id AND outcome = :recovered
