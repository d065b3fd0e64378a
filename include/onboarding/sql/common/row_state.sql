SELECT customer_key, organization_name, status, status_reason, avepoint_customer_id,
       api_status, attempts, claimed_by, previous_status
FROM {{ table }}
WHERE customer_key = :key
