"""Login throttling per account and per IP: failures counted in Redis over a fixed window."""

from __future__ import annotations

from redis.asyncio import Redis

from clientcompass.config import Settings
from clientcompass.errors import TooManyAttempts


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
        if over_account or over_ip:
            ttl = await self.redis.ttl(account_key if over_account else ip_key)
            wait = max(int(ttl), 1)
            minutes = max(1, (wait + 59) // 60)
            raise TooManyAttempts(
                f"Too many failed sign-in attempts. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}, or reset your password.",
                retry_after=wait,
            )

    async def record_failure(self, email: str, ip: str) -> None:
        window = self.settings.login_failure_window_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, ip):
                # The window starts at the first failure; INCR keeps the TTL SET gave it.
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def clear_account(self, email: str) -> None:
        await self.redis.delete(self._keys(email, "")[0])
