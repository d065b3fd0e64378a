UPDATE {{ table }} SET requested_at = :requested_at WHERE customer_key = :key
