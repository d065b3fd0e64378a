-- An open finding found again; its detail is the latest one.
UPDATE {{ drift_state_table }}
SET last_run_id = :run_id,
    last_seen_at = :now,
    detail = :detail
WHERE finding_key = :finding_key AND closed_at IS NULL
