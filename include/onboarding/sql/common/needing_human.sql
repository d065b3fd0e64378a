SELECT customer_key, organization_name, status, status_reason
FROM {{ table }}
WHERE claimed_by = :run_id
  AND status IN :needs_human
ORDER BY status, customer_key
LIMIT :limit
