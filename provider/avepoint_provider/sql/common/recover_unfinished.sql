-- Rows this run still holds after its onboarding tasks ended: their task died or never ran.
UPDATE {{ table }}
SET status = CASE WHEN attempts >= {{ bind('max_attempts') }} THEN 'failed' ELSE 'retry' END,
    status_reason = {{ bind('reason') }},
    updated_at = {{ bind('now') }}
WHERE claimed_by = {{ bind('run_id') }}
  AND status = 'in_progress'
RETURNING customer_key, status, attempts
