-- The customers a run onboarded, with their AvePoint ids (no e-mail, no password).
SELECT customer_key, avepoint_customer_id
FROM {{ table }}
WHERE claimed_by = :run_id
  AND status = :onboarded
ORDER BY customer_key
