-- A person's review sends a row needing a human back to pending, with the fields as corrected (the
-- others as they were). Only while the row is still in the status the person saw: a row changed
-- meanwhile is left alone (no row updated). A failed row starts its attempts again.
UPDATE {{ table }}
SET first_name = :first_name,
    last_name = :last_name,
    organization_name = :organization_name,
    registration_account = :registration_account,
    country_code = :country_code,
    telephone_number = :telephone_number,
    data_center = :data_center,
    tags = :tags,
    management_mode = :management_mode,
    status = :pending,
    status_reason = :reason,
    attempts = CASE WHEN :reset_attempts THEN 0 ELSE attempts END,
    updated_at = :now
WHERE customer_key = :key
  AND status = :seen_status
