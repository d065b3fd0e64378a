-- Write-ahead: count the attempt before anything is sent, and only while this run still holds
-- the row. claimed_at is the claim's heartbeat: refreshed here, so a row being sent is never
-- stale to another run for as long as one call to AvePoint can last.
UPDATE {{ table }}
SET attempts = attempts + 1,
    status_reason = :reason,
    claimed_at = :now,
    updated_at = :now
WHERE customer_key = :key
  AND claimed_by = :run_id
  AND status = :in_progress
{{ returning('*') }}
