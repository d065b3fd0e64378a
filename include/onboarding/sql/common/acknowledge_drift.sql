-- A person acknowledges open findings, named by customer key, AvePoint id or finding key: they stay
-- quiet until they close.
UPDATE {{ drift_state_table }}
SET acknowledged_by = :by,
    acknowledged_at = :now
WHERE closed_at IS NULL
  AND acknowledged_by IS NULL
  AND (customer_key IN :names OR avepoint_customer_id IN :names OR finding_key IN :names)
