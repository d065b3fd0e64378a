-- Load one customer as pending (a row whose key exists is left alone).
INSERT INTO {{ table }}
    (customer_key, first_name, last_name, organization_name, registration_account, country_code,
     telephone_number, data_center, password, tags, management_mode, status, attempts, requested_at)
VALUES
    (:customer_key, :first_name, :last_name, :organization_name, :registration_account, :country_code,
     :telephone_number, :data_center, :password, :tags, :management_mode, :pending, 0, :requested_at)
ON CONFLICT (customer_key) DO NOTHING
