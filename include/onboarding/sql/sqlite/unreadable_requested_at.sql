-- Waiting rows whose requested_at SQLite's date functions cannot read (e.g. "+0000" or " UTC").
SELECT customer_key, requested_at
FROM {{ table }}
WHERE status IN ({{ claimable }})
  AND julianday(requested_at) IS NULL
