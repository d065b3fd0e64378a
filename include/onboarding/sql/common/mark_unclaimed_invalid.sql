-- A waiting row that cannot even be claimed (its requested_at is unreadable) becomes invalid.
UPDATE {{ table }}
SET status = :invalid,
    status_reason = :reason,
    updated_at = :now
WHERE customer_key = :key
  AND status IN :claimable
