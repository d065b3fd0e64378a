-- The attempt's outcome; the password is erased once the customer is onboarded.
UPDATE {{ table }}
SET status = :status,
    status_reason = :reason,
    avepoint_customer_id = COALESCE(:customer_id, avepoint_customer_id),
    api_status = COALESCE(:api_status, api_status),
    password = CASE WHEN :erase_password THEN NULL ELSE password END,
    updated_at = :now
WHERE customer_key = :key
  AND claimed_by = :run_id
  AND status = :in_progress
