SELECT status, COUNT(*) AS n
FROM {{ table }}
GROUP BY status
