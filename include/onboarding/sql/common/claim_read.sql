-- Which of the picked rows this run now holds, oldest first: the claim's result.
SELECT customer_key
FROM {{ table }}
WHERE customer_key IN :picked
  AND claimed_by = :run_id
  AND status = :in_progress
ORDER BY requested_at, customer_key
