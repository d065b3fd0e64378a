-- The key may be bound as bytes: a key that is not UTF-8 is addressed by what is stored.
UPDATE {{ table }} SET requested_at = :requested_at WHERE customer_key = CAST(:key AS TEXT)
