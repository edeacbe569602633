"""Login throttling per account and per IP: failures counted in Redis over a fixed window.

The messages live here, beside the counts they describe, so what a person is told (how many
tries are left, how long a lock lasts, whether a password reset helps) stays true to what the
throttle does. They depend only on the email typed, never on whether it has an account.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from clientcompass.config import Settings
from clientcompass.errors import TooManyAttempts

WRONG_CREDENTIALS = "That email and password do not match an account."


@dataclass(frozen=True, slots=True)
class Failures:
    """Where an email stands after a wrong password: tries left before the lock, and how long
    until its count starts again."""

    tries_left: int
    seconds_left: int

    def message(self) -> str:
        """The wrong-password message, warning on the last try and saying when it locked."""
        minutes = _minutes(self.seconds_left)
        if self.tries_left == 1:
            return (
                f"{WRONG_CREDENTIALS} One more wrong try locks sign-in for {minutes}; "
                "you can reset your password instead."
            )
        if self.tries_left <= 0:
            return (
                f"{WRONG_CREDENTIALS} Sign-in is now locked for {minutes}; "
                "you can reset your password instead."
            )
        return WRONG_CREDENTIALS


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def _keys(self, email: str, ip: str) -> tuple[str, str]:
        return f"login-fail:acct:{email.lower()}", f"login-fail:ip:{ip}"

    async def check(self, email: str, ip: str) -> None:
        account_key, ip_key = self._keys(email, ip)
        account, per_ip = await self.redis.mget(account_key, ip_key)
        over_account = int(account or 0) >= self.settings.login_max_failures_per_account
        over_ip = int(per_ip or 0) >= self.settings.login_max_failures_per_ip
        if not (over_account or over_ip):
            return
        locked = [key for key, over in ((account_key, over_account), (ip_key, over_ip)) if over]
        wait = max(1, *[int(await self.redis.ttl(key)) for key in locked])
        if over_ip:
            # A reset does not clear the per-IP count, so it is not offered here.
            raise TooManyAttempts(
                "Too many failed sign-in attempts from this network. "
                f"Try again in {_minutes(wait)}.",
                retry_after=wait,
            )
        # True since a completed reset clears this count (`clear_account`).
        raise TooManyAttempts(
            f"Too many failed sign-in attempts. Try again in {_minutes(wait)}, "
            "or reset your password.",
            retry_after=wait,
        )

    async def record_failure(self, email: str, ip: str) -> Failures:
        window = self.settings.login_failure_window_seconds
        account_key, ip_key = self._keys(email, ip)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (account_key, ip_key):
                # The window starts at the first failure; INCR keeps the TTL SET gave it.
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            pipe.ttl(account_key)
            _, account_failures, _, _, ttl = await pipe.execute()
        return Failures(
            tries_left=self.settings.login_max_failures_per_account - int(account_failures),
            seconds_left=max(int(ttl), 1),
        )

    async def clear_account(self, email: str) -> None:
        await self.redis.delete(self._keys(email, "")[0])


def _minutes(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
