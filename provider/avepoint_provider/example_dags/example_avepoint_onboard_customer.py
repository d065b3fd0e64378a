"""
### Onboard one customer to AvePoint Elements

Trigger this DAG with the customer's fields as params (▶ → *Run Parameters*). It onboards that
customer through the AvePoint Graph API exactly once: triggering it again with the same account
does not create a second customer.

1. `register_customer` writes the customer's fields (no password) to the Airflow Variable
   `avepoint_onboarding_state.<account>` with `VariableOnboardingStore.register()`.
2. `onboard_customer` (`AvePointOnboardCustomerOperator`) counts the attempt in that Variable
   before it sends anything, reads the password, onboards the customer and records the outcome.
   A retried task or a later run looks the account up in AvePoint before sending again; a
   customer recorded `onboarded` is never sent again.

**Connections**

* `avepoint_default` (type `avepoint`): the app registration's client id and secret (or
  certificate).
* `avepoint_customer_password` (any type; only its *password* field is read): the customer's
  initial password. Keep it in your secrets backend, never in the params. The param
  `password_conn_id` may name another connection under the same prefix, e.g. one per customer
  (`avepoint_customer_password_acme`); no other connection, so whoever triggers the DAG cannot
  make another connection's password (the AvePoint client secret, say) a customer's password.
  Examples:
  * environment variable: `AIRFLOW_CONN_AVEPOINT_CUSTOMER_PASSWORD='{"conn_type": "generic", "password": "..."}'`
  * HashiCorp Vault (`VaultBackend`, `connections_path="connections"`): the secret
    `connections/avepoint_customer_password` with `{"conn_type": "generic", "password": "..."}`
  * AWS Secrets Manager (`connections_prefix="airflow/connections"`): the secret
    `airflow/connections/avepoint_customer_password` holding the same JSON.

  Delete or rotate that secret once the customer is onboarded.

The task's result (XCom `return_value`) is the outcome: `onboarded`, `rejected`, `conflict`,
`retry` or `failed`, with AvePoint's status, the customer id and the reason. The password never
appears in params, XCom, rendered templates or logs.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from avepoint_provider.operators.onboard import AvePointOnboardCustomerOperator
from avepoint_provider.reference import COUNTRY_NAMES, DATA_CENTERS
from avepoint_provider.stores.variable import NON_SECRET_FIELDS, VariableOnboardingStore

# Built at parse time: it only stores names; the Variable and the Connection are read in tasks.
STORE = VariableOnboardingStore(password_conn_id="avepoint_customer_password")
EAST_US = "e44bb3ed-f1d8-4055-8c77-c8fd8cd63409"
# The only connections a trigger may take a customer's password from.
PASSWORD_CONN_PATTERN = r"avepoint_customer_password(_[A-Za-z0-9_-]{1,100})?"


def _text(title: str, description: str, **schema: Any) -> Param:
    return Param(type="string", minLength=1, title=title, description=description, **schema)


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # a Variable has no compare-and-set: one run at a time per DAG
    doc_md=__doc__,
    tags=["avepoint", "example"],
    default_args={"owner": "airflow", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "first_name": _text("First name", "The customer's first name.", maxLength=64),
        "last_name": _text("Last name", "The customer's last name.", maxLength=64),
        "organization_name": _text("Organization", "The customer's organization.", maxLength=128),
        "registration_account": _text(
            "Registration account",
            "The customer's sign-in e-mail address; also the key of the onboarding state.",
            format="email",
            maxLength=200,
        ),
        "country_code": Param(
            "US",
            type="string",
            enum=sorted(COUNTRY_NAMES),
            values_display=COUNTRY_NAMES,
            title="Country or region",
            description="Two capital letters (ISO 3166-1 alpha-2).",
        ),
        "data_center": Param(
            EAST_US,
            type="string",
            enum=list(DATA_CENTERS),
            values_display={guid: region for guid, (region, _) in DATA_CENTERS.items()},
            title="Data center",
            description="Where AvePoint keeps the customer's data; must belong to the connection's cloud.",
        ),
        "telephone_number": Param(
            None, type=["null", "string"], maxLength=32, title="Telephone number", description="Optional."
        ),
        "tags": Param(
            [], type="array", items={"type": "string"}, title="Tags", description="Optional, one per line."
        ),
        "management_mode": Param(
            None,
            type=["null", "boolean"],
            title="Management mode",
            description="Optional; sent as AvePoint's managementMode when set.",
        ),
        "password_conn_id": Param(
            "avepoint_customer_password",
            type="string",
            pattern=f"^{PASSWORD_CONN_PATTERN}$",
            title="Password connection",
            description="The connection whose password field holds the customer's initial password: "
            "avepoint_customer_password, or one named avepoint_customer_password_<suffix>.",
        ),
    },
)
def example_avepoint_onboard_customer() -> None:
    @task
    def register_customer() -> str:
        """Write the customer's fields (never a password) to the store; only the key goes to XCom."""
        params = get_current_context()["params"]
        password_conn_id = params["password_conn_id"]
        # Checked again here: the params' schema is the trigger form's, this is the task's own word.
        if not re.fullmatch(PASSWORD_CONN_PATTERN, password_conn_id):
            raise ValueError("password_conn_id must be avepoint_customer_password[_<suffix>]")
        fields = {name: params[name] for name in NON_SECRET_FIELDS}
        key = params["registration_account"].strip().lower()
        return STORE.register(key, fields, password_conn_id=password_conn_id)

    AvePointOnboardCustomerOperator(
        task_id="onboard_customer",
        customer_key=register_customer(),
        store=STORE,
    )


example_avepoint_onboard_customer()
