"""The sandbox's mutable state: customers, tokens, fault settings, scripts and counters.

One re-entrant lock guards everything, including the random generator, so a
seeded run draws its numbers in request-arrival order and counters never tear.
With a state file, every change to the customers is on disk before the
request that made it is answered, like a database commit.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avepoint_sandbox.config import FaultSettings, SandboxConfig
from avepoint_sandbox.faults import Draw, FaultAction, TokenBucket, parse_script_action, random_fault
from avepoint_sandbox.models import Customer, SeedData, parse_seed
from avepoint_sandbox.reference import (
    STATUS_ALREADY_EXISTS,
    STATUS_MANAGED_BY_CURRENT_PARTNER,
    STATUS_SAME_AS_PARTNER,
    STATUS_SUCCESSFUL,
)
from avepoint_sandbox.validation import OnboardRequest

log = logging.getLogger(__name__)

ENDPOINTS = ("token", "onboard", "list")


@dataclass(frozen=True)
class TokenRecord:
    scopes: frozenset[str]
    expires_at: float  # time.monotonic() deadline


@dataclass(frozen=True)
class RequestPlan:
    """What was decided when a request arrived: its random draw and its artificial delay."""

    draw: Draw
    delay_seconds: float


@dataclass(frozen=True)
class Admission:
    """The fault (if any) for an admitted request, and whether it was already counted as a re-send."""

    fault: FaultAction | None
    counted_after_creation: bool = False


class SandboxState:
    """Thread-safe state of one sandbox; the HTTP handler and the control API both go through it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._save_lock = threading.Lock()
        self._version = 0
        self._saved_version = 0
        self._startup_seed = (
            parse_seed(config.seed, job_status=config.job_status, partner_account=config.partner_account)
            if config.seed
            else None
        )
        with self.lock:
            self._clear()
            self._faults = config.faults
            self._bucket = self._new_bucket()
            if config.state_file is not None:
                self._load(config.state_file)
            if self._startup_seed is not None:
                self._apply_seed(self._startup_seed)
        self.persist()

    # -- setup ------------------------------------------------------------------------------------

    def _clear(self) -> None:
        """Forget customers, tokens, scripts and counters (the caller holds the lock)."""
        self._customers: dict[str, Customer] = {}  # account (lower) -> customer, in creation order
        self._by_id: dict[str, Customer] = {}
        self._other_partner_accounts: set[str] = set()
        self._tokens: dict[str, TokenRecord] = {}
        self._tokens_issued: list[str] = []
        self._seen_jtis: dict[str, float] = {}  # jti -> wall-clock expiry
        self._client_enabled = True
        self._scripts: defaultdict[str, deque[FaultAction]] = defaultdict(deque)
        self._requests: Counter[str] = Counter({name: 0 for name in ENDPOINTS})
        self._posts: Counter[str] = Counter()
        self._creations: Counter[str] = Counter()
        self._posts_after_creation: Counter[str] = Counter()
        self._status_counts: Counter[str] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._rng = random.Random(self.config.random_seed)
        self._version += 1

    def _new_bucket(self) -> TokenBucket | None:
        if self._faults.rate_limit_per_second <= 0:
            return None
        return TokenBucket(self._faults.rate_limit_per_second, self._faults.bucket_size, time.monotonic())

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        for record in data.get("customers", []):
            self._store(Customer.from_record(record))
        log.info("Loaded %d customers from the state file %s", len(self._customers), path)

    def _store(self, customer: Customer) -> None:
        self._customers[customer.account_key] = customer
        self._by_id[customer.id] = customer
        self._version += 1

    def _apply_seed(self, seed: SeedData) -> dict[str, int]:
        added = skipped = 0
        for customer in seed.customers:
            if customer.account_key in self._customers or customer.id in self._by_id:
                skipped += 1
                continue
            self._store(customer)
            added += 1
        self._other_partner_accounts.update(account.lower() for account in seed.other_partner_accounts)
        return {
            "seeded": added,
            "skipped": skipped,
            "other_partner_accounts": len(self._other_partner_accounts),
        }

    def persist(self) -> None:
        """Write the customers to the state file, atomically, if one is configured and they changed."""
        path = self.config.state_file
        if path is None:
            return
        with self._save_lock:
            with self.lock:
                version = self._version
                if version <= self._saved_version:
                    return
                records = [customer.to_record() for customer in self._customers.values()]
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"version": 1, "customers": records}, handle, indent=1)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._saved_version = version

    # -- identity ---------------------------------------------------------------------------------

    @property
    def client_enabled(self) -> bool:
        with self.lock:
            return self._client_enabled

    def remember_jti(self, jti: str, expires_at: float) -> bool:
        """Record a client-assertion ``jti``; False if it was seen before (a replay)."""
        now = time.time()
        with self.lock:
            if jti in self._seen_jtis:
                return False
            # An expired assertion fails its exp check anyway, so its jti need not be kept.
            horizon = now - self.config.jwt_leeway_seconds
            for old in [j for j, exp in self._seen_jtis.items() if exp < horizon]:
                del self._seen_jtis[old]
            self._seen_jtis[jti] = expires_at
            return True

    def issue_token(self, scopes: tuple[str, ...]) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens[token] = TokenRecord(
                frozenset(scopes), time.monotonic() + self.config.token_lifetime
            )
            self._tokens_issued.append(token)
        return token

    def token_scopes(self, token: str) -> frozenset[str] | None:
        """The scopes of a live token; None if it is unknown, expired or revoked."""
        with self.lock:
            record = self._tokens.get(token)
            if record is None:
                return None
            if time.monotonic() >= record.expires_at:
                del self._tokens[token]
                return None
            return record.scopes

    def revoke_tokens(self, *, disable_client: bool = False) -> int:
        """Invalidate every issued token; optionally refuse the client until :meth:`enable_client`."""
        with self.lock:
            revoked = len(self._tokens)
            self._tokens.clear()
            if disable_client:
                self._client_enabled = False
        log.info("Revoked %d tokens%s", revoked, "; client disabled" if disable_client else "")
        return revoked

    def enable_client(self) -> None:
        with self.lock:
            self._client_enabled = True

    # -- faults -----------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultSettings:
        with self.lock:
            return self._faults

    def update_faults(self, partial: dict[str, Any]) -> FaultSettings:
        """Merge ``partial`` into the fault settings; ValueError leaves them unchanged."""
        with self.lock:
            self._faults = self._faults.merged(partial)
            self._bucket = self._new_bucket()
            return self._faults

    def clear_faults(self) -> FaultSettings:
        with self.lock:
            self._faults = FaultSettings()
            self._bucket = None
            return self._faults

    def add_script(self, account: str, raw_actions: list[Any]) -> int:
        """Queue scripted actions for ``account``; returns how many are now pending for it."""
        actions = [parse_script_action(raw, self.faults.retry_after) for raw in raw_actions]
        with self.lock:
            queue = self._scripts[account.strip().lower()]
            queue.extend(actions)
            return len(queue)

    def plan(self, endpoint: str) -> RequestPlan:
        """Count an arriving request and draw its random numbers (always the same count, in order)."""
        with self.lock:
            self._requests[endpoint] += 1
            draw = Draw.from_rng(self._rng)
            faults = self._faults
        delayed = endpoint != "token" or faults.latency_on_token
        delay_ms = faults.latency_ms + draw.jitter * faults.jitter_ms if delayed else 0.0
        return RequestPlan(draw, delay_ms / 1000.0)

    def admit(self, endpoint: str, draw: Draw, account: str | None = None) -> Admission:
        """Decide the fault of an authenticated request: token bucket, then script, then random.

        Onboarding POSTs are counted here, per account, whether or not a fault hits them.
        """
        with self.lock:
            counted = False
            if account is not None:
                self._posts[account] += 1
                if account in self._customers:
                    self._posts_after_creation[account] += 1
                    counted = True
            fault = self._decide(endpoint, draw, account)
            if fault is not None:
                self._faults_injected[fault.label] += 1
            return Admission(fault, counted)

    def _decide(self, endpoint: str, draw: Draw, account: str | None) -> FaultAction | None:
        faults = self._faults
        applies = endpoint in faults.apply_to
        if applies and self._bucket is not None:
            wait = self._bucket.take(time.monotonic())
            if wait is not None:
                return FaultAction("rate_limited", http_status=429, retry_after=wait)
        if account is not None and self._scripts.get(account):
            action = self._scripts[account].popleft()
            if not self._scripts[account]:
                del self._scripts[account]
            return action
        return random_fault(faults, draw) if applies else None

    # -- Graph API --------------------------------------------------------------------------------

    def onboard(self, request: OnboardRequest, *, counted_after_creation: bool) -> tuple[int, str | None]:
        """Process a valid onboarding request: the API status and customer id it yields."""
        key = request.registration_account.lower()
        created = False
        with self.lock:
            if key == self.config.partner_account.lower():
                status, customer_id = STATUS_SAME_AS_PARTNER, None
            elif key in self._other_partner_accounts:
                status, customer_id = STATUS_ALREADY_EXISTS, None
            elif key in self._customers:
                status, customer_id = STATUS_MANAGED_BY_CURRENT_PARTNER, self._customers[key].id
                if not counted_after_creation:
                    # Arrived while its twin was still being created: a concurrent duplicate.
                    self._posts_after_creation[key] += 1
            else:
                customer = Customer.from_onboarding(request, self.config.job_status)
                self._store(customer)
                self._creations[key] += 1
                status, customer_id, created = STATUS_SUCCESSFUL, customer.id, True
            self._status_counts[str(status)] += 1
        if created:
            self.persist()
        return status, customer_id

    def list_customers(self, ids: tuple[str, ...] | None, page_index: int, page_size: int) -> dict[str, Any]:
        """One page of the partner's customers, in creation order."""
        with self.lock:
            if ids is None:
                selected = list(self._customers.values())
            else:
                wanted = set(ids)
                selected = [c for c in self._customers.values() if c.id in wanted]
            start = (page_index - 1) * page_size
            page = [customer.to_public() for customer in selected[start : start + page_size]]
        return {
            "data": page,
            "metadata": {"pageIndex": page_index, "pageSize": page_size, "totalCount": len(selected)},
        }

    # -- control ----------------------------------------------------------------------------------

    def seed(self, payload: Any) -> dict[str, int]:
        """Add already-managed customers and other partners' accounts (not counted as POSTs)."""
        seed = parse_seed(
            payload, job_status=self.config.job_status, partner_account=self.config.partner_account
        )
        with self.lock:
            result = self._apply_seed(seed)
        self.persist()
        return result

    def reset(self) -> None:
        """Empty everything, faults included, then re-apply the startup seed."""
        with self.lock:
            self._clear()
            self._faults = FaultSettings()
            self._bucket = None
            if self._startup_seed is not None:
                self._apply_seed(self._startup_seed)
        self.persist()
        log.info("Sandbox state reset")

    def customers(self) -> list[dict[str, Any]]:
        with self.lock:
            return [customer.to_record() for customer in self._customers.values()]

    def inspect(self) -> dict[str, Any]:
        """Everything tests assert on, as JSON-safe data."""
        with self.lock:
            return {
                "customers": [customer.to_record() for customer in self._customers.values()],
                "posts_per_account": dict(self._posts),
                "creations_per_account": dict(self._creations),
                "posts_after_creation": dict(self._posts_after_creation),
                "status_counts": dict(self._status_counts),
                "faults_injected": dict(self._faults_injected),
                "requests": dict(self._requests),
                "tokens_issued": list(self._tokens_issued),
                "token_requests": self._requests["token"],
                "scripts_pending": {account: len(queue) for account, queue in self._scripts.items()},
                "other_partner_accounts": sorted(self._other_partner_accounts),
                "client_enabled": self._client_enabled,
                "faults": self._faults.to_dict(),
            }
