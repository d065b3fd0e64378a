-- An open finding this run no longer found.
UPDATE {{ drift_state_table }}
SET closed_run_id = :run_id,
    closed_at = :now
WHERE finding_key = :finding_key AND closed_at IS NULL
