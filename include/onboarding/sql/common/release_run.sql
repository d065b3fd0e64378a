-- Give every row this run still holds back untouched: the status it had before the claim.
UPDATE {{ table }}
SET status = COALESCE(previous_status, :pending),
    status_reason = :reason,
    updated_at = :now
WHERE claimed_by = :run_id
  AND status = :in_progress
  {{ picked_only }}
{{ returning('customer_key, status, attempts') }}
