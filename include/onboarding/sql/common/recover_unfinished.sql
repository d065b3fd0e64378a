-- Rows this run still holds after its onboarding tasks ended: their task died or never ran.
-- A row whose task never counted an attempt (its status_reason is still the claim's) has one
-- counted here: a task that fails before begin_attempt, run after run, must still reach
-- max_attempts instead of returning to retry forever. status comes first because MySQL assigns
-- SET items left to right (PostgreSQL and SQLite read every item from the old row).
UPDATE {{ table }}
SET status = CASE
        WHEN attempts + CASE WHEN status_reason = :claimed_reason THEN 1 ELSE 0 END >= :max_attempts
        THEN :failed ELSE :retry
    END,
    attempts = attempts + CASE WHEN status_reason = :claimed_reason THEN 1 ELSE 0 END,
    status_reason = :reason,
    updated_at = :now
WHERE claimed_by = :run_id
  AND status = :in_progress
  {{ picked_only }}
{{ returning('customer_key, status, attempts') }}
