-- The picked rows a release or recovery just changed, read back where an UPDATE cannot return
-- them: still this run's, and carrying the reason the update wrote.
SELECT customer_key, status, attempts
FROM {{ table }}
WHERE customer_key IN :picked
  AND claimed_by = :run_id
  AND status_reason = :reason
ORDER BY customer_key
