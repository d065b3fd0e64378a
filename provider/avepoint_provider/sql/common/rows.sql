-- Rows without their password, for validation, dry runs and reports.
SELECT customer_key, first_name, last_name, organization_name, registration_account,
       country_code, telephone_number, data_center, tags, management_mode,
       status, status_reason, avepoint_customer_id, api_status, attempts, requested_at
FROM {{ table }}
WHERE {% if keys is not none %}customer_key IN ({{ bind_each('keys') }}){% else %}claimed_by = {{ bind('run_id') }} AND status = 'in_progress'{% endif %}
ORDER BY requested_at, customer_key
