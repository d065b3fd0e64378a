-- A finding found again after it closed starts a new life (its row is replaced).
DELETE FROM {{ drift_state_table }}
WHERE finding_key = :finding_key AND closed_at IS NOT NULL
