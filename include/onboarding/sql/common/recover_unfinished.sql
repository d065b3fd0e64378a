-- Rows this run still holds after its onboarding tasks ended: their task died or never ran.
UPDATE {{ table }}
SET status = CASE WHEN attempts >= :max_attempts THEN :failed ELSE :retry END,
    status_reason = :reason,
    updated_at = :now
WHERE claimed_by = :run_id
  AND status = :in_progress
  {{ picked_only }}
{{ returning('customer_key, status, attempts') }}
