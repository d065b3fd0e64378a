-- Only what validation needs to know about each password; the secret itself stays in the table.
SELECT customer_key,
       password IS NULL AS password_missing,
       LENGTH(password) AS password_length,
       LENGTH(TRIM(password)) AS password_trimmed_length
FROM {{ table }}
WHERE customer_key IN :keys
