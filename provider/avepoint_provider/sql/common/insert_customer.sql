-- Load one customer as pending (a row whose key exists is left alone).
INSERT INTO {{ table }}
    (customer_key, first_name, last_name, organization_name, registration_account, country_code,
     telephone_number, data_center, password, tags, management_mode, status, attempts, requested_at)
VALUES
    ({{ bind('customer_key') }}, {{ bind('first_name') }}, {{ bind('last_name') }},
     {{ bind('organization_name') }}, {{ bind('registration_account') }}, {{ bind('country_code') }},
     {{ bind('telephone_number') }}, {{ bind('data_center') }}, {{ bind('password') }}, {{ bind('tags') }},
     {{ bind('management_mode') }}, 'pending', 0, {{ bind('requested_at') }})
ON CONFLICT (customer_key) DO NOTHING
