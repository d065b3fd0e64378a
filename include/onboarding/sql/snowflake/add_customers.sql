-- Load one customer as pending; a row whose key exists is left alone. Snowflake does not enforce
-- the primary key, so MERGE (serialised with other DML on the table) keeps keys unique.
MERGE INTO {{ table }} AS t
USING (SELECT :customer_key AS customer_key) AS n
ON t.customer_key = n.customer_key
WHEN NOT MATCHED THEN INSERT
    (customer_key, first_name, last_name, organization_name, registration_account, country_code,
     telephone_number, data_center, password, tags, management_mode, status, attempts, requested_at)
VALUES
    (:customer_key, :first_name, :last_name, :organization_name, :registration_account, :country_code,
     :telephone_number, :data_center, :password, :tags, :management_mode, :pending, 0, :requested_at)
