-- Indexes on the customer table (also on a user's own table), created when missing (MySQL 8 has
-- no CREATE INDEX IF NOT EXISTS). (status, requested_at, customer_key) serves each branch of
-- claim_pick.sql in claim order: a claim reads `limit` entries per status, however large the table.
-- key_part() gives a TEXT column (a user's) the prefix MySQL needs to index it.
{% if index_name('status') not in existing_indexes -%}
CREATE INDEX {{ index_name('status') }} ON {{ table }} ({{ key_part('status', 32) }}, requested_at, {{ key_part('customer_key', 191) }});
{%- endif %}
{% if index_name('claimed_by') not in existing_indexes -%}
CREATE INDEX {{ index_name('claimed_by') }} ON {{ table }} ({{ key_part('claimed_by', 191) }});
{%- endif %}
