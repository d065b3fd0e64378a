-- The rows a run holds, without their password, for validation.
SELECT customer_key, first_name, last_name, organization_name, registration_account,
       country_code, telephone_number, data_center, tags, management_mode,
       status, status_reason, avepoint_customer_id, api_status, attempts, requested_at
FROM {{ table }}
WHERE claimed_by = :run_id AND status = :in_progress
ORDER BY requested_at, customer_key
