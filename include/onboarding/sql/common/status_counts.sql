SELECT status, COUNT(*) AS n
FROM {{ table }}
WHERE claimed_by = :run_id
GROUP BY status
