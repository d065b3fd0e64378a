"""One customer's review as a human-in-the-loop task: Airflow's ``HITLOperator``, fed by the warehouse.

The task reads the row when it runs (the form holds its current values; XCom carries only the key
and the label), asks in the UI's *Required Actions*, and when the person answers applies the choice
(:func:`include.onboarding.review_decision.apply_review`). Uses only what providers-standard 1.17 offers
(MWAA 3.3.1's).

Row data is never a template: this operator has no template fields, and the subject, text and form
are built in ``execute``, after Airflow rendered templates, from values read from the table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from include.onboarding.review import CHOICES, LEAVE

SHOWN_XCOM_KEY = "shown"


class CustomerReviewOperator(HITLOperator):
    """Ask a person what to do with one row needing a human, then do it.

    :param customer_key: the row's key.
    :param customer_label: what the grid shows for the task (key and organization).
    :param response_timeout: how long to wait for an answer; then *Leave it* applies.
    """

    template_fields = ()  # nothing of a row is ever rendered as Jinja
    ui_color = "#fdf2d0"

    def __init__(
        self,
        *,
        customer_key: str,
        customer_label: str | None = None,
        response_timeout: timedelta | None = timedelta(days=3),
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject="Customer review",  # the row's own subject is set in execute
            options=list(CHOICES),
            defaults=[LEAVE],
            multiple=False,
            response_timeout=response_timeout,
            **kwargs,
        )
        self.customer_key = customer_key
        self.customer_label = customer_label or customer_key
        # The grid label: map_index_template="{{ task.review_label }}" shows it, never renders it.
        self.review_label = self.customer_label

    def execute(self, context: Any) -> Any:
        from airflow.sdk.definitions.param import ParamsDict

        from include.onboarding import review
        from include.onboarding.config import WAREHOUSE_CONN_ID, OnboardingSettings
        from include.onboarding.review_store import ReviewWarehouse
        from include.onboarding.status import NEEDS_HUMAN

        store = ReviewWarehouse.from_settings(OnboardingSettings.load(), WAREHOUSE_CONN_ID)
        try:
            row = next(iter(store.rows([self.customer_key])), None)
        finally:
            store.dispose()
        if row is None or row["status"] not in NEEDS_HUMAN:
            now = "no longer in the table" if row is None else f"{row['status']} now"
            self.review_label = f"{self.customer_label} — {now}, nothing to review"
            self.log.info("Customer %s is %s: nothing to review", self.customer_key, now)
            return {"customer_key": self.customer_key, "outcome": "nothing_to_review", "requeued": False}
        self.subject = review.subject(row)
        self.body = review.body(row)
        self.params = ParamsDict(review.form_params(row))
        # What the form showed, as a digest: the answer is applied only to the row as it was shown.
        context["ti"].xcom_push(key=SHOWN_XCOM_KEY, value=review.fingerprint(row))
        self.review_label = f"{self.customer_label} — {row['status']}, waiting for a person"
        self.log.info(
            "Customer %s is %s; waiting for a person's choice in Required Actions",
            self.customer_key,
            row["status"],
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from airflow.sdk import BaseHook

        from avepoint_provider.settings import AvePointSettings
        from include.onboarding.config import AVEPOINT_CONN_ID, WAREHOUSE_CONN_ID, OnboardingSettings
        from include.onboarding.review_decision import apply_review
        from include.onboarding.review_store import ReviewWarehouse

        answer = super().execute_complete(context, event)
        ti = context["ti"]
        shown = ti.xcom_pull(task_ids=self.task_id, key=SHOWN_XCOM_KEY, map_indexes=ti.map_index)
        environment = AvePointSettings.from_connection(BaseHook.get_connection(AVEPOINT_CONN_ID)).environment
        store = ReviewWarehouse.from_settings(OnboardingSettings.load(), WAREHOUSE_CONN_ID)
        try:
            outcome = apply_review(
                store,
                self.customer_key,
                choice=answer["chosen_options"][0],
                answers=dict(answer["params_input"] or {}),
                user=answer["responded_by_user"],
                shown=shown,
                run_id=context["run_id"],
                try_number=ti.try_number,
                data_center_family=environment.data_center_family,
            )
        finally:
            store.dispose()
        self.review_label = f"{self.customer_label} — {outcome.label}"
        (self.log.info if outcome.requeued or not outcome.problems else self.log.warning)(
            "Customer %s: %s", self.customer_key, outcome.message
        )
        return outcome.to_dict()
