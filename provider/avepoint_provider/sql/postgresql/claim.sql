-- Atomically move this run's rows to in_progress and return them, oldest first.
-- FOR UPDATE SKIP LOCKED: a concurrent run (a backfill beside a scheduled run)
-- skips rows another transaction is claiming instead of waiting for or re-taking them;
-- PostgreSQL re-checks the WHERE clause on a row that changed before it was locked.
-- Written so the planner can walk the partial "claimable" index in claim order and stop
-- after `limit` rows, and update them through the primary key (see create_tables.sql):
-- "status in (pending, retry) or a stale in_progress" is spelled as the index's predicate
-- plus a filter, which PostgreSQL can match to the index.
WITH picked AS (
    SELECT customer_key
    FROM {{ table }}
    WHERE status IN ('pending', 'retry', 'in_progress')
      AND (status <> 'in_progress' OR claimed_at < {{ bind('stale_before') }})
      AND requested_at < {{ bind('interval_end') }}
      {% if keys %}AND customer_key IN ({{ bind_each('keys') }}){% endif %}
    ORDER BY requested_at, customer_key
    LIMIT {{ bind('limit') }}
    {% if not preview %}FOR UPDATE SKIP LOCKED{% endif %}
)
{% if preview %}
SELECT customer_key FROM picked
{% else %},
claimed AS (
    UPDATE {{ table }} AS t
    SET previous_status = CASE WHEN t.status = 'in_progress' THEN t.previous_status ELSE t.status END,
        status = 'in_progress',
        status_reason = {{ bind('reason') }},
        claimed_by = {{ bind('run_id') }},
        claimed_at = {{ bind('now') }},
        updated_at = {{ bind('now') }}
    WHERE t.customer_key = ANY (ARRAY(SELECT customer_key FROM picked))
    RETURNING t.customer_key, t.requested_at
)
SELECT customer_key FROM claimed ORDER BY requested_at, customer_key
{% endif %}
