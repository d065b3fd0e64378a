-- A waiting row that cannot even be claimed (its requested_at is unreadable) becomes invalid.
-- The key may be bound as bytes: a SQLite key that is not UTF-8 is addressed by what is stored.
UPDATE {{ table }}
SET status = :invalid,
    status_reason = :reason,
    updated_at = :now
WHERE customer_key = CAST(:key AS {{ types.text }})
  AND status IN :claimable
