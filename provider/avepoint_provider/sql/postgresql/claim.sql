-- Atomically move this run's rows to in_progress and return them.
-- FOR UPDATE SKIP LOCKED: a concurrent run (a backfill beside a scheduled run)
-- skips rows another transaction is claiming instead of waiting for or re-taking them;
-- PostgreSQL re-checks the WHERE clause on a row that changed before it was locked.
WITH picked AS (
    SELECT customer_key
    FROM {{ table }}
    WHERE (status IN ('pending', 'retry')
           OR (status = 'in_progress' AND claimed_at < {{ bind('stale_before') }}))
      AND requested_at < {{ bind('interval_end') }}
      {% if keys %}AND customer_key IN ({{ bind_each('keys') }}){% endif %}
    ORDER BY requested_at, customer_key
    LIMIT {{ bind('limit') }}
    {% if not preview %}FOR UPDATE SKIP LOCKED{% endif %}
)
{% if preview %}
SELECT customer_key FROM picked
{% else %}
UPDATE {{ table }} AS t
SET previous_status = CASE WHEN t.status = 'in_progress' THEN t.previous_status ELSE t.status END,
    status = 'in_progress',
    status_reason = {{ bind('reason') }},
    claimed_by = {{ bind('run_id') }},
    claimed_at = {{ bind('now') }},
    updated_at = {{ bind('now') }}
FROM picked
WHERE t.customer_key = picked.customer_key
RETURNING t.customer_key
{% endif %}
