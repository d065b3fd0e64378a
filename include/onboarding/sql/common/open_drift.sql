-- Findings that stand: found by the last run that looked, not closed since.
SELECT finding_key, kind, customer_key, avepoint_customer_id, detail, acknowledged_by
FROM {{ drift_state_table }}
WHERE closed_at IS NULL
