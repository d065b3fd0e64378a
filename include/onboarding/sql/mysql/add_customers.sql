-- Load one customer as pending (a row whose key exists is left alone; INSERT IGNORE would also
-- turn a NULL in a required column into an empty text).
INSERT INTO {{ table }}
    (customer_key, first_name, last_name, organization_name, registration_account, country_code,
     telephone_number, data_center, password, tags, management_mode, status, attempts, requested_at)
SELECT :customer_key, :first_name, :last_name, :organization_name, :registration_account, :country_code,
       :telephone_number, :data_center, :password, :tags, :management_mode, :pending, 0, :requested_at
FROM DUAL
WHERE NOT EXISTS (SELECT 1 FROM {{ table }} WHERE customer_key = :customer_key)
