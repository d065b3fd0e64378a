-- Indexes on the customer table (also on a user's own table).
CREATE INDEX IF NOT EXISTS {{ index_name('status') }} ON {{ table }} (status, requested_at);
CREATE INDEX IF NOT EXISTS {{ index_name('claimed_by') }} ON {{ table }} (claimed_by);
