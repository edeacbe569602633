"""Browser sessions: a short-lived JWT naming a session that must still exist in Redis.

The Redis key slides its 24-hour inactivity expiry on every authenticated request (the
privacy policy's promise); an absolute lifetime caps it. Deleting the key (logout) makes
every JWT that names it worthless at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
from redis.asyncio import Redis

from clientcompass.config import Settings

JWT_ALGORITHM = "HS256"
SESSION_KEY = "session:{sid}"
USER_SESSIONS_KEY = "user-sessions:{tenant}:{user}"
# How stale "last used" may get before a request writes it again: one write a minute at most.
LAST_SEEN_PRECISION_SECONDS = 60

# Load a session and slide its expiry; note when it was last used (at most once a minute).
# One script, so a session deleted meanwhile is never recreated by the write.
_TOUCH = """
local data = redis.call('HGETALL', KEYS[1])
if #data == 0 then return data end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local seen = redis.call('HGET', KEYS[1], 'last_seen')
if not seen or tonumber(ARGV[1]) - tonumber(seen) >= tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
end
return data
"""

# Note a step-up on a session that still exists: a session deleted meanwhile stays deleted.
_STEP_UP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'stepped_up_at', ARGV[1])
return 1
"""


def device_handle(sid: str) -> str:
    """A session's name on the device list: a digest, so a page never shows a session id."""
    return hashlib.sha256(f"device:{sid}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Session:
    sid: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    csrf_token: str
    created_at: float
    # When the person last confirmed their password in this session (accounts/step_up.py).
    stepped_up_at: float | None = None


@dataclass(frozen=True)
class Device:
    """One signed-in session as the person's device list shows it."""

    handle: str
    user_agent: str
    ip: str
    created_at: float
    last_seen: float
    current: bool


class SessionStore:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    async def create(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, *, ip: str, user_agent: str
    ) -> Session:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(sid, tenant_id, user_id, secrets.token_urlsafe(32), now)
        key = SESSION_KEY.format(sid=sid)
        index = USER_SESSIONS_KEY.format(tenant=tenant_id, user=user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "tenant_id": str(tenant_id),
                    "user_id": str(user_id),
                    "csrf": session.csrf_token,
                    "created_at": repr(now),
                    "ip": ip,
                    "user_agent": user_agent[:300],
                },
            )
            pipe.expire(key, self.settings.session_idle_seconds)
            pipe.sadd(index, sid)
            pipe.expire(index, self.settings.session_absolute_seconds)
            await pipe.execute()
        return session

    async def touch(self, sid: str) -> Session | None:
        """Load a live session and slide its inactivity expiry; None if gone or too old."""
        key = SESSION_KEY.format(sid=sid)
        data = await self.redis.eval(
            _TOUCH,
            1,
            key,
            repr(time.time()),
            self.settings.session_idle_seconds,
            LAST_SEEN_PRECISION_SECONDS,
        )
        if not data:
            return None
        fields = {_text(k): _text(v) for k, v in zip(data[::2], data[1::2], strict=True)}
        session = Session(
            sid=sid,
            tenant_id=uuid.UUID(fields["tenant_id"]),
            user_id=uuid.UUID(fields["user_id"]),
            csrf_token=fields["csrf"],
            created_at=float(fields["created_at"]),
            stepped_up_at=float(fields["stepped_up_at"]) if "stepped_up_at" in fields else None,
        )
        if time.time() - session.created_at > self.settings.session_absolute_seconds:
            await self.delete(session)
            return None
        return session

    async def mark_stepped_up(self, session: Session, at: float | None = None) -> bool:
        """Record that the person just confirmed their password in this session; False if the
        session has ended meanwhile."""
        key = SESSION_KEY.format(sid=session.sid)
        done = await self.redis.eval(_STEP_UP, 1, key, repr(time.time() if at is None else at))
        return bool(done)

    async def delete(self, session: Session) -> None:
        index = USER_SESSIONS_KEY.format(tenant=session.tenant_id, user=session.user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(SESSION_KEY.format(sid=session.sid))
            pipe.srem(index, session.sid)
            await pipe.execute()

    async def delete_all(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        """Log a user out everywhere: every session of theirs stops working at once."""
        index = USER_SESSIONS_KEY.format(tenant=tenant_id, user=user_id)
        sids = await self.redis.smembers(index)
        keys = [SESSION_KEY.format(sid=_text(sid)) for sid in sids]
        async with self.redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            pipe.delete(index)
            await pipe.execute()
        return len(keys)

    async def delete_others(self, session: Session) -> int:
        """After a password change: every other session of the user ends, this one stays."""
        index = USER_SESSIONS_KEY.format(tenant=session.tenant_id, user=session.user_id)
        others = [_text(sid) for sid in await self.redis.smembers(index)]
        others = [sid for sid in others if sid != session.sid]
        if others:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(SESSION_KEY.format(sid=sid) for sid in others))
                pipe.srem(index, *others)
                await pipe.execute()
        return len(others)

    async def devices(self, session: Session) -> list[Device]:
        """The user's live sessions, most recently used first; `session` is marked current.
        Sessions that expired meanwhile are dropped from the user's index."""
        index = USER_SESSIONS_KEY.format(tenant=session.tenant_id, user=session.user_id)
        sids = sorted(_text(sid) for sid in await self.redis.smembers(index))
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hgetall(SESSION_KEY.format(sid=sid))
            found = await pipe.execute()
        devices: list[Device] = []
        gone: list[str] = []
        for sid, data in zip(sids, found, strict=True):
            if not data:
                gone.append(sid)
                continue
            fields = {_text(k): _text(v) for k, v in data.items()}
            created = float(fields.get("created_at", "0"))
            devices.append(
                Device(
                    handle=device_handle(sid),
                    user_agent=fields.get("user_agent", ""),
                    ip=fields.get("ip", ""),
                    created_at=created,
                    last_seen=float(fields.get("last_seen", created)),
                    current=sid == session.sid,
                )
            )
        if gone:
            await self.redis.srem(index, *gone)
        return sorted(devices, key=lambda d: (not d.current, -d.last_seen))

    async def delete_device(self, session: Session, handle: str) -> bool:
        """Sign one of the user's own sessions out by its handle; False if none matches."""
        index = USER_SESSIONS_KEY.format(tenant=session.tenant_id, user=session.user_id)
        for sid in (_text(sid) for sid in await self.redis.smembers(index)):
            if secrets.compare_digest(device_handle(sid).encode(), handle.encode()):
                await self.delete(
                    Session(sid, session.tenant_id, session.user_id, "", session.created_at)
                )
                return True
        return False

    def issue_jwt(self, session: Session) -> str:
        now = int(time.time())
        claims = {
            "sid": session.sid,
            "sub": str(session.user_id),
            "tid": str(session.tenant_id),
            "iat": now,
            "exp": now + self.settings.jwt_lifetime_seconds,
        }
        return jwt.encode(claims, self.settings.secret_key, algorithm=JWT_ALGORITHM)

    def read_jwt(self, token: str, *, verify_exp: bool = True) -> dict[str, str] | None:
        """The claims of a JWT we signed, or None. Only HS256 is accepted (no `alg: none`)."""
        try:
            claims: dict[str, str] = jwt.decode(
                token,
                self.settings.secret_key,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sid", "sub", "tid", "exp"], "verify_exp": verify_exp},
            )
        except jwt.PyJWTError:
            return None
        return claims


def _text(value: bytes | str | int | float) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
