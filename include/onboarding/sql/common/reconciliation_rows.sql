-- What reconciliation compares with AvePoint's list: every row's key, status, account and id.
SELECT customer_key, status, registration_account, avepoint_customer_id
FROM {{ table }}
