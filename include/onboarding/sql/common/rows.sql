-- Rows without their password, for validation, dry runs and reports.
SELECT customer_key, first_name, last_name, organization_name, registration_account,
       country_code, telephone_number, data_center, tags, management_mode,
       status, status_reason, avepoint_customer_id, api_status, attempts, requested_at
FROM {{ table }}
WHERE customer_key IN :keys
ORDER BY requested_at, customer_key
