"""Login throttling per account and per IP: failures counted in Redis over a fixed window,
each attempt reserved (counted) before its password is checked and handed back on success.

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


# Reserve one attempt against both counts, atomically: refuse (changing nothing) when either
# is already at its limit, else start each window on its first use and count the attempt.
# Reserving before the password is checked is what holds the limit under parallel requests:
# a check-then-count leaves every request in flight free to pass the check.
_RESERVE = """
local account = tonumber(redis.call('GET', KEYS[1]) or '0')
local ip = tonumber(redis.call('GET', KEYS[2]) or '0')
local allowed = 0
if account < tonumber(ARGV[1]) and ip < tonumber(ARGV[2]) then
  allowed = 1
  for _, key in ipairs(KEYS) do
    redis.call('SET', key, 0, 'EX', ARGV[3], 'NX')
  end
  account = redis.call('INCR', KEYS[1])
  ip = redis.call('INCR', KEYS[2])
end
return {allowed, account, ip, redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2])}
"""

# A sign-in that succeeded was no failure: clear the account's count and hand back the
# address's reservation (never below zero, never recreating a window that has run out).
_RELEASE = """
redis.call('DEL', KEYS[1])
local ip = tonumber(redis.call('GET', KEYS[2]) or '0')
if ip > 0 then
  redis.call('DECR', KEYS[2])
end
return ip
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt that was let through to the password check, already counted."""

    email: str
    ip: str
    failures: Failures


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    def _keys(self, email: str, ip: str) -> tuple[str, str]:
        return f"login-fail:acct:{email.lower()}", f"login-fail:ip:{ip}"

    async def reserve(self, email: str, ip: str) -> Attempt:
        """Count this attempt as a failure before its password is checked, or refuse it.

        Raises TooManyAttempts when the account or the address is at its limit: then no
        password may be checked, the right one included. Call `succeeded` if it was right.
        """
        settings = self.settings
        account_key, ip_key = self._keys(email, ip)
        allowed, account, per_ip, account_ttl, ip_ttl = await self._reserve(
            keys=[account_key, ip_key],
            args=[
                settings.login_max_failures_per_account,
                settings.login_max_failures_per_ip,
                settings.login_failure_window_seconds,
            ],
        )
        if allowed:
            failures = Failures(
                tries_left=settings.login_max_failures_per_account - int(account),
                seconds_left=max(int(account_ttl), 1),
            )
            return Attempt(email, ip, failures)
        if int(per_ip) >= settings.login_max_failures_per_ip:
            # A reset does not clear the per-IP count, so it is not offered here.
            wait = max(1, int(ip_ttl))
            raise TooManyAttempts(
                "Too many failed sign-in attempts from this network. "
                f"Try again in {_minutes(wait)}.",
                retry_after=wait,
            )
        wait = max(1, int(account_ttl))
        # True since a completed reset clears this count (`clear_account`).
        raise TooManyAttempts(
            f"Too many failed sign-in attempts. Try again in {_minutes(wait)}, "
            "or reset your password.",
            retry_after=wait,
        )

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt no longer counts against anyone."""
        await self._release(keys=list(self._keys(attempt.email, attempt.ip)))

    async def clear_account(self, email: str) -> None:
        await self.redis.delete(self._keys(email, "")[0])


def _minutes(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
