-- settle_onboarded's row, read back where an UPDATE cannot return it (the update holds the row).
SELECT customer_key
FROM {{ table }}
WHERE customer_key = :key
