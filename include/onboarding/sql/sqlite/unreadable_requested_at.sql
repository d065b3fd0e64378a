-- Waiting rows whose requested_at SQLite's date functions cannot read (e.g. "+0000" or " UTC").
-- raw_key: the key's stored bytes, to address a row whose key is not UTF-8 (never decoded).
SELECT customer_key, CAST(customer_key AS BLOB) AS raw_key, requested_at
FROM {{ table }}
WHERE status IN ({{ claimable }})
  AND julianday(requested_at) IS NULL
