-- What reconciliation compares with AvePoint's list: every row's key, status, account, organization
-- and id (never the password).
SELECT customer_key, status, registration_account, organization_name, avepoint_customer_id
FROM {{ table }}
