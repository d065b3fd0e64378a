-- Onboarded rows whose account may be one of the given ones: a coarse filter only (LOWER folds
-- more than ASCII on some databases); warehouse.onboarded_accounts confirms each with account_key.
SELECT DISTINCT registration_account AS account
FROM {{ table }}
WHERE status = :onboarded
  AND LOWER(TRIM(registration_account)) IN :accounts
