-- Give rows back untouched: the status they had before this run claimed them.
UPDATE {{ table }}
SET status = COALESCE(previous_status, 'pending'),
    status_reason = {{ bind('reason') }},
    attempts = attempts - {{ bind('undo_attempts') }},
    updated_at = {{ bind('now') }}
WHERE claimed_by = {{ bind('run_id') }}
  AND status = 'in_progress'
  {% if key is not none %}AND customer_key = {{ bind('key') }}{% endif %}
RETURNING customer_key, status, attempts
