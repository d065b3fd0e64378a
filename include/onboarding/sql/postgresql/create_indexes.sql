-- Indexes on the customer table (also on a user's own table). The partial "claimable" index
-- holds the rows a claim may take, in claim order (see claim.sql): a claim reads `limit` index
-- entries instead of sorting every waiting row. Its predicate is spelled as literals because
-- PostgreSQL matches a partial index to a query at plan time.
CREATE INDEX IF NOT EXISTS {{ index_name('status') }} ON {{ table }} (status, requested_at);
CREATE INDEX IF NOT EXISTS {{ index_name('claimed_by') }} ON {{ table }} (claimed_by);
CREATE INDEX IF NOT EXISTS {{ index_name('claimable') }} ON {{ table }} (requested_at, customer_key)
    WHERE status IN ({{ claimable }});
