UPDATE {{ table }}
SET status = 'invalid',
    status_reason = {{ bind('reason') }},
    updated_at = {{ bind('now') }}
WHERE customer_key = {{ bind('key') }}
  AND claimed_by = {{ bind('run_id') }}
  AND status = 'in_progress'
