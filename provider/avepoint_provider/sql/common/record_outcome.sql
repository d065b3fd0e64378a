-- The attempt's outcome; the password is erased once the customer is onboarded.
UPDATE {{ table }}
SET status = {{ bind('status') }},
    status_reason = {{ bind('reason') }},
    avepoint_customer_id = COALESCE({{ bind('customer_id') }}, avepoint_customer_id),
    api_status = COALESCE({{ bind('api_status') }}, api_status),
    password = CASE WHEN {{ bind('status') }} = 'onboarded' THEN NULL ELSE password END,
    updated_at = {{ bind('now') }}
WHERE customer_key = {{ bind('key') }}
  AND claimed_by = {{ bind('run_id') }}
  AND status = 'in_progress'
