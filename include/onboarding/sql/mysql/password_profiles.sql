-- Only what validation needs to know about each password; the secret itself stays in the table.
-- CHAR_LENGTH: MySQL's LENGTH counts bytes.
SELECT customer_key,
       password IS NULL AS password_missing,
       CHAR_LENGTH(password) AS password_length,
       CHAR_LENGTH(TRIM(password)) AS password_trimmed_length
FROM {{ table }}
WHERE customer_key IN :keys
