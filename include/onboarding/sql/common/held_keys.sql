-- The rows a run holds, picked (and locked where the engine has row locks) before an UPDATE that
-- cannot return the rows it changed (see warehouse._Transaction.update).
SELECT customer_key
FROM {{ table }}
WHERE claimed_by = :run_id
  AND status = :in_progress
{{ for_update }}
