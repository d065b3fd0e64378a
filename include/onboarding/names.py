"""What the DAG files need at parse time: task ids, the pool and the DAGs' shared ``default_args``.

A module of plain constants, so that parsing a DAG (in the scheduler's parse loop and again in
every task process) imports nothing else from the project.
"""

from __future__ import annotations

import os
from datetime import timedelta

POOL = "avepoint_api"
PREPARE_TASK_ID = "prepare_table"
CLAIM_TASK_ID = "claim_customers"
VALIDATE_TASK_ID = "validate_customers"
# The Asset an onboarding run updates when it left rows needing a human: it starts the review DAG.
REVIEW_ASSET_URI = "avepoint://elements/customers/needing-review"

# Tests and impatient operators may shorten the retry delay; production keeps a minute.
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AVEPOINT_ONBOARDING_RETRY_DELAY_SECONDS", "60")))

# Every DAG of the project retries the same way: twice, backing off exponentially up to 10 minutes.
DEFAULT_ARGS = {
    "owner": "partner-operations",
    "retries": 2,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
