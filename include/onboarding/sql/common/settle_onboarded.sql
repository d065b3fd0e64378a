-- A conflict or retry row whose account AvePoint lists under this partner: an earlier attempt
-- created it. Rows in any other status (in_progress above all) are left alone.
UPDATE {{ table }}
SET status = :onboarded,
    avepoint_customer_id = :customer_id,
    password = NULL,
    status_reason = :reason,
    updated_at = :now
WHERE customer_key = :key
  AND status IN :settleable
{{ returning('customer_key') }}
