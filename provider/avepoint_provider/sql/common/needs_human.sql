SELECT customer_key, organization_name, status, status_reason
FROM {{ table }}
WHERE claimed_by = {{ bind('run_id') }}
  AND status IN ('invalid', 'rejected', 'conflict', 'failed')
ORDER BY status, customer_key
LIMIT {{ bind('limit') }}
