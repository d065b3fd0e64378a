-- Write-ahead: count the attempt before anything is sent, and only while this run
-- still holds the row (a stale claim taken over by another run is not sent twice).
UPDATE {{ table }}
SET attempts = attempts + 1,
    status_reason = {{ bind('reason') }},
    updated_at = {{ bind('now') }}
WHERE customer_key = {{ bind('key') }}
  AND claimed_by = {{ bind('run_id') }}
  AND status = 'in_progress'
RETURNING customer_key, first_name, last_name, organization_name, registration_account,
          country_code, telephone_number, data_center, password, tags, management_mode,
          attempts, previous_status
