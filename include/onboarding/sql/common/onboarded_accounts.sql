-- Accounts of the given list that another row already onboarded.
SELECT DISTINCT LOWER(registration_account) AS account
FROM {{ table }}
WHERE status = :onboarded
  AND LOWER(registration_account) IN :accounts
