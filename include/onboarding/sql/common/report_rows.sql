-- Rows for the audit report: explicit columns, never the password.
SELECT customer_key, organization_name, registration_account, country_code, status, status_reason,
       attempts, api_status, avepoint_customer_id, requested_at, updated_at, claimed_by
FROM {{ table }}
WHERE status IN :statuses
ORDER BY status, customer_key
