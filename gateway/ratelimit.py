"""Login throttling: failures per account (a lockout) and per client address, over a ``limits`` storage.

The storage is named by a URI (``async+memory://`` by default: one gateway process). Several gateway replicas
share one by naming a shared store instead (``async+redis://…``), with no change here. Unknown usernames are
counted exactly like real ones, so the answers never tell whether an account exists.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string

from jinqiao.kit import telemetry

if TYPE_CHECKING:
    from fastapi import Request

    from jinqiao.gateway.settings import GatewaySettings

log = telemetry.get_logger("jinqiao.gateway.login")


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """The numbers: N failures of one account within a window lock it; M failures from one address block it.

    An account's window starts at its first failure (a fixed window, which a success clears); an address's
    window moves. (Clearing a moving window races the in-memory storage's expiry task, so none is cleared.)
    """

    account_failures: int = 5
    account_window_seconds: int = 900
    lockout_seconds: int = 900
    address_failures: int = 20
    address_window_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused before any password is checked, and for how many more seconds."""

    reason: str  # "account_locked" or "address_limited"
    retry_after: int


class LoginLimiter:
    """Counts failed logins; ``refusal`` says whether the next attempt may even be tried."""

    def __init__(self, policy: LoginPolicy, storage: Storage, *, namespace: str = "login") -> None:
        self.policy = policy
        self._moving = MovingWindowRateLimiter(storage)
        self._fixed = FixedWindowRateLimiter(storage)
        # The namespace keeps logins and client tokens apart when both count in one shared store.
        self._account_failures: RateLimitItem = RateLimitItemPerSecond(
            policy.account_failures, policy.account_window_seconds, namespace=f"{namespace}-account-failures")
        self._lock: RateLimitItem = RateLimitItemPerSecond(1, policy.lockout_seconds, namespace=f"{namespace}-lock")
        self._address_failures: RateLimitItem = RateLimitItemPerSecond(
            policy.address_failures, policy.address_window_seconds, namespace=f"{namespace}-address-failures")

    @classmethod
    def from_uri(cls, policy: LoginPolicy, uri: str = "async+memory://", *, namespace: str = "login") -> LoginLimiter:
        """A limiter over the ``limits`` storage the URI names (it must be an ``async+…`` one)."""
        storage = storage_from_string(uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"login limit storage must be asynchronous (async+…://), not {uri.split(':')[0]}")
        return cls(policy, storage, namespace=namespace)

    @staticmethod
    def account_key(username: str) -> str:
        """One key per account however its name is cased or padded."""
        return username.strip().casefold()

    async def refusal(self, *, username: str, address: str) -> Refusal | None:
        """A refusal when the account is locked or the address has failed too often; None to go ahead."""
        account = self.account_key(username)
        if not await self._fixed.test(self._lock, account):
            return Refusal("account_locked", await self._seconds_left(self._fixed, self._lock, account))
        if not await self._moving.test(self._address_failures, address):
            return Refusal("address_limited",
                           await self._seconds_left(self._moving, self._address_failures, address))
        return None

    async def attempt(self, *, username: str, address: str) -> Refusal | None:
        """Count an attempt against the account before its password is checked (so a burst of parallel guesses
        cannot slip past the limit); a refusal when that count itself reaches the lockout."""
        account = self.account_key(username)
        if not await self._fixed.hit(self._account_failures, account):
            return await self._lock_out(account=account, address=address)
        return None

    async def failed(self, *, username: str, address: str) -> None:
        """A wrong password (or unknown user): count it for the address; lock the account at N failures."""
        account = self.account_key(username)
        await self._moving.hit(self._address_failures, address)
        if not await self._fixed.test(self._account_failures, account):
            await self._lock_out(account=account, address=address)

    async def succeeded(self, *, username: str) -> None:
        """A correct password: the account's failure count starts again from zero."""
        await self._fixed.clear(self._account_failures, self.account_key(username))

    async def _lock_out(self, *, account: str, address: str) -> Refusal:
        await self._fixed.hit(self._lock, account)
        await self._fixed.clear(self._account_failures, account)
        seconds = await self._seconds_left(self._fixed, self._lock, account)
        log.warning("login.account_locked", account=account, address=address,
                    failures=self.policy.account_failures, locked_seconds=seconds)
        return Refusal("account_locked", seconds)

    @staticmethod
    async def _seconds_left(limiter: FixedWindowRateLimiter | MovingWindowRateLimiter, item: RateLimitItem,
                            key: str) -> int:
        stats = await limiter.get_window_stats(item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


def app_limiter(request: Request, settings: GatewaySettings, *, namespace: str) -> LoginLimiter:
    """The app's limiter of one kind of credential (``login``, ``client-token``), made on first use from the
    login settings: one per app, so per gateway process unless the storage is shared."""
    limiters: dict[str, LoginLimiter] | None = getattr(request.app.state, "credential_limiters", None)
    if limiters is None:
        limiters = request.app.state.credential_limiters = {}
    if namespace not in limiters:
        policy = LoginPolicy(
            account_failures=settings.login_account_failures,
            account_window_seconds=settings.login_account_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
            address_failures=settings.login_address_failures,
            address_window_seconds=settings.login_address_window_seconds,
        )
        limiters[namespace] = LoginLimiter.from_uri(policy, settings.login_limit_storage, namespace=namespace)
    return limiters[namespace]
