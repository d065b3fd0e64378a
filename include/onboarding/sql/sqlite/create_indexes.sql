-- Indexes on the customer table (also on a user's own table).
CREATE INDEX IF NOT EXISTS {{ index_name('status') }} ON {{ table }} (status, requested_at);
CREATE INDEX IF NOT EXISTS {{ index_name('claimed_by') }} ON {{ table }} (claimed_by);
-- The rows a claim may take, in claim order (claim.sql), and where unreadable requested_at values
-- sort first (NULL): both the claim and the spelling check read only what they return.
CREATE INDEX IF NOT EXISTS {{ index_name('claimable') }} ON {{ table }} (julianday(requested_at), customer_key)
    WHERE status IN ({{ claimable }});
