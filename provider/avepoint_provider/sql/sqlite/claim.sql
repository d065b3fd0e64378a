-- Atomically move this run's rows to in_progress and return them.
-- Runs inside BEGIN IMMEDIATE: SQLite admits one writer at a time, so a
-- concurrent run waits (busy timeout) and then sees these rows already claimed.
-- julianday() compares timestamps whatever ISO-8601 spelling the loader used.
{% if not preview %}
UPDATE {{ table }}
SET previous_status = CASE WHEN status = 'in_progress' THEN previous_status ELSE status END,
    status = 'in_progress',
    status_reason = {{ bind('reason') }},
    claimed_by = {{ bind('run_id') }},
    claimed_at = {{ bind('now') }},
    updated_at = {{ bind('now') }}
WHERE customer_key IN (
{% endif %}
    SELECT customer_key
    FROM {{ table }}
    WHERE (status IN ('pending', 'retry')
           OR (status = 'in_progress' AND julianday(claimed_at) < julianday({{ bind('stale_before') }})))
      AND julianday(requested_at) < julianday({{ bind('interval_end') }})
      {% if keys %}AND customer_key IN ({{ bind_each('keys') }}){% endif %}
    ORDER BY julianday(requested_at), customer_key
    LIMIT {{ bind('limit') }}
{% if not preview %}
)
RETURNING customer_key
{% endif %}
