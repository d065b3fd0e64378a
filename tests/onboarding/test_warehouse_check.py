"""tools/warehouse_check.py: the once-off check a user runs against their own warehouse."""

from __future__ import annotations

import pytest

from tests.conftest import set_connection
from tests.support.warehouses import warehouse_connection
from tools.warehouse_check import main

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("snowflake", marks=pytest.mark.snowflake)])
def test_the_check_races_claimers_on_a_scratch_table_and_drops_it(
    engine, request, tmp_path, monkeypatch, capsys
):
    set_connection(monkeypatch, "customer_warehouse", **warehouse_connection(engine, request, tmp_path))
    assert main(["--table", "avepoint_smoke", "--rows", "24", "--limit", "5"]) == 0
    output = capsys.readouterr().out
    assert "24 of 24 rows claimed by 4 concurrent claimers" in output and "taken twice: 0" in output
    assert output.rstrip().endswith("OK: exactly once")

    from include.onboarding.warehouse import CustomerWarehouse

    store = CustomerWarehouse("customer_warehouse", "avepoint_smoke")
    with store.transaction() as tx:
        assert store.dialect.table_columns(tx.connection, store.table_name) is None  # dropped


def test_the_check_refuses_a_table_that_exists(warehouse, capsys):
    assert main(["--table", "customer_onboarding"]) == 1
    assert "exists: name a scratch table that does not" in capsys.readouterr().err
