-- The review queue: rows needing a human, by key (a keyless selection takes every such row) and by
-- the run that left them (none given: any run). Never the password. One row more than the limit
-- tells the caller that more are waiting.
SELECT customer_key, organization_name, status
FROM {{ table }}
WHERE status IN :needs_human
  AND (:all_keys OR customer_key IN :keys)
  AND (:all_runs OR claimed_by IN :run_ids)
ORDER BY customer_key
LIMIT :limit
