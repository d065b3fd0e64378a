-- begin_attempt's row, read back where an UPDATE cannot return it (the update holds the row).
SELECT *
FROM {{ table }}
WHERE customer_key = :key
  AND claimed_by = :run_id
  AND status = :in_progress
