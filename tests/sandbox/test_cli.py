"""The sandbox CLI (``python -m avepoint_sandbox``): flags, a real subprocess, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from avepoint_sandbox import SandboxControl
from avepoint_sandbox.__main__ import build_parser, config_from_args
from avepoint_sandbox.reference import ONBOARD_PATH
from tests.sandbox.helpers import PASSWORD_SENTINEL, customer_body

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_flags_map_onto_the_config(tmp_path: Path, rsa_public_pem: str) -> None:
    key = tmp_path / "client.pem"
    key.write_text(rsa_public_pem)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"other_partner_accounts": ["x@y.example"]}))
    args = build_parser().parse_args(
        [
            "--port=0",
            "--client-public-key",
            str(key),
            "--token-lifetime=60",
            "--latency-ms=250",
            "--error-rate-500=0.1",
            "--lost-response-rate=0.1",
            "--lost-response-mode=drop",
            "--rate-limit-per-second=20",
            "--random-seed=7",
            "--apply-to=onboard,list",
            "--latency-on-token",
            "--list-accepts-readwrite",
            f"--seed={seed}",
        ]
    )
    config = config_from_args(args)
    assert config.client_public_key_pem == rsa_public_pem
    assert config.token_lifetime == 60
    assert config.random_seed == 7
    assert config.list_requires_read_scope is False
    assert config.seed == {"other_partner_accounts": ["x@y.example"]}
    faults = config.faults
    assert (faults.latency_ms, faults.error_rate_500, faults.lost_response_rate) == (250, 0.1, 0.1)
    assert faults.lost_response_mode == "drop"
    assert faults.rate_limit_per_second == 20
    assert faults.apply_to == ("onboard", "list")
    assert faults.latency_on_token is True


def test_bad_flag_value_is_rejected() -> None:
    with pytest.raises(ValueError):
        config_from_args(build_parser().parse_args(["--error-rate-500=2"]))


def _start(*flags: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "avepoint_sandbox", "--port", "0", *flags],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("SANDBOX_URL="), line
    return process, line.removeprefix("SANDBOX_URL=")


@pytest.mark.integration
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    process, url = _start("--random-seed", "7", "--client-secret", "cli-secret-value")
    try:
        control = SandboxControl(url)
        control.wait_until_up(timeout=10)
        assert control.health() == {"ok": True}
        token = requests.post(
            url + "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "cli-secret-value",
            },
            timeout=5,
        ).json()["access_token"]
        created = requests.post(
            url + ONBOARD_PATH, json=customer_body(), headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert created.json()["status"] == 1
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert f"POST {ONBOARD_PATH} -> 200" in stderr
    assert "/connect/token -> 200" in stderr
    for secret in (PASSWORD_SENTINEL, "cli-secret-value", token):
        assert secret not in stderr
