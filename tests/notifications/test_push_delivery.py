"""Push delivery end to end: a device subscribed through the app's own service, a push queued
in a unit of work, the job run by the worker, and a local RFC 8030 push service that checks
the VAPID signature and decrypts the payload with the device's private key, as a browser
would. Also: 410 prunes the device, 503/429 retry later, a forged signature is refused, and
the VAPID private key never reaches the log."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from py_vapid import Vapid

from clientcompass.config import Settings, generate_vapid_private_key, load_vapid_private_key
from clientcompass.logs import configure_logging
from clientcompass.models import PushSubscription
from clientcompass.notifications import push, subscriptions
from clientcompass.notifications.outbox import PUSH_TASK, Push, Urgency, queue_push, topic_for
from clientcompass.work import push_client
from tests.support import factories
from tests.support.aio import run_async
from tests.support.factories import Services
from tests.support.push_service import PushService, PushServiceServer, Refused
from tests.support.worker import run_queued_jobs

ANDROID = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    """What the worker runs with: the session's settings with their secrets filled in (the
    VAPID key generated, sealed, into the data folder)."""
    return settings.ensure_secrets()


def run_jobs(settings: Settings) -> None:
    """Run every due job, and those they defer, as `worker --once` does."""
    run_async(lambda: run_queued_jobs(settings))


def device(
    settings: Settings, push_service: PushService, account: factories.Account
) -> tuple[uuid.UUID, dict[str, Any]]:
    """A phone that turned push on: subscribed at the stand-in with the app's key, stored
    through the app's own service."""
    browser = push_service.subscribe(push.vapid_public_key(settings.ensure_secrets()))

    async def store(services: Services) -> uuid.UUID:
        async with services.unit_of_work(account.tenant_id) as uow:
            row = await subscriptions.subscribe(
                uow,
                services.keyring,
                account.user_id,
                endpoint=browser["endpoint"],
                p256dh=browser["keys"]["p256dh"],
                auth=browser["keys"]["auth"],
                user_agent=ANDROID,
            )
            return row.id

    return factories.run(settings, store), browser


def queue(
    settings: Settings,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    message: Push,
    *more: uuid.UUID,
) -> None:
    async def write(services: Services) -> None:
        async with services.unit_of_work(tenant_id) as uow:
            queue_push(uow, [subscription_id, *more], message)

    factories.run(settings, write)


def stored(
    settings: Settings, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> PushSubscription | None:
    async def read(services: Services) -> PushSubscription | None:
        async with services.unit_of_work(tenant_id) as uow:
            return await uow.session.get(PushSubscription, (tenant_id, subscription_id))

    return factories.run(settings, read)


def push_jobs(conn: psycopg.Connection, subscription_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select id, status::text, attempts, scheduled_at from procrastinate_jobs "
        "where task_name = %s and args->'subscription_ids' ? %s order by id",
        (PUSH_TASK, str(subscription_id)),
    ).fetchall()


def new_message(tag: str = "", **changes: Any) -> Push:
    values: dict[str, Any] = {
        "title": "New message from Sipho",
        "body": "Can you come at 9 tomorrow? The geyser is leaking again.",
        "url": f"/inbox/{uuid.uuid4()}",
        "tag": tag or f"conversation:{uuid.uuid4()}",
        "urgency": Urgency.HIGH,
        "ttl_seconds": 3600,
    }
    values.update(changes)
    return Push(**values)


def test_a_queued_push_reaches_the_device_readable_with_its_headers(
    app_settings: Settings, push_service: PushService
) -> None:
    account = factories.business_with_owner(app_settings)
    subscription_id, browser = device(app_settings, push_service, account)
    message = new_message()
    queue(app_settings, account.tenant_id, subscription_id, message)

    run_jobs(app_settings)

    [delivery] = push_service.deliveries(browser["endpoint"])
    assert delivery.payload == {
        "title": "New message from Sipho",
        "body": "Can you come at 9 tomorrow? The geyser is leaking again.",
        "url": message.url,
        "tag": message.tag,
    }
    assert delivery.headers["topic"] == topic_for(message.tag)
    assert delivery.headers["urgency"] == "high"
    assert delivery.headers["ttl"] == "3600"
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert delivery.headers["authorization"].startswith("vapid t=")
    row = stored(app_settings, account.tenant_id, subscription_id)
    assert row is not None and row.last_used_at is not None
    # A burst to the same phone: each push delivered, "last used" written once a minute.
    queue(app_settings, account.tenant_id, subscription_id, new_message(tag=message.tag))
    run_jobs(app_settings)
    assert len(push_service.deliveries(browser["endpoint"])) == 2
    again = stored(app_settings, account.tenant_id, subscription_id)
    assert again is not None and again.last_used_at == row.last_used_at


def test_a_device_the_push_service_calls_gone_is_removed(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    account = factories.business_with_owner(app_settings)
    subscription_id, browser = device(app_settings, push_service, account)
    kept_id, kept = device(app_settings, push_service, account)
    push_service.gone(browser["endpoint"])
    queue(app_settings, account.tenant_id, subscription_id, new_message())
    queue(app_settings, account.tenant_id, kept_id, new_message())

    run_jobs(app_settings)

    assert [r.status for r in push_service.rejections(browser["endpoint"])] == [410]
    assert stored(app_settings, account.tenant_id, subscription_id) is None
    assert stored(app_settings, account.tenant_id, kept_id) is not None
    assert len(push_service.deliveries(kept["endpoint"])) == 1
    assert [status for _, status, _, _ in push_jobs(owner_conn, subscription_id)] == ["succeeded"]


def test_a_push_service_that_is_down_is_tried_again_later(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    account = factories.business_with_owner(app_settings)
    subscription_id, browser = device(app_settings, push_service, account)
    push_service.fail(browser["endpoint"], times=1, status=503)
    queue(app_settings, account.tenant_id, subscription_id, new_message())

    run_jobs(app_settings)

    assert push_service.deliveries(browser["endpoint"]) == []
    # The batch's job is done; the device the push service refused has a job of its own, later.
    [(_, first, _, _), (retry_id, status, _, scheduled_at)] = push_jobs(owner_conn, subscription_id)
    assert (first, status) == ("succeeded", "todo")
    assert scheduled_at > datetime.now(UTC)
    # The backoff has passed: the retry is due.
    owner_conn.execute(
        "update procrastinate_jobs set scheduled_at = now() where id = %s", (retry_id,)
    )

    run_jobs(app_settings)

    assert len(push_service.deliveries(browser["endpoint"])) == 1
    assert [status for _, status, _, _ in push_jobs(owner_conn, subscription_id)] == [
        "succeeded",
        "succeeded",
    ]
    assert stored(app_settings, account.tenant_id, subscription_id) is not None


def test_one_job_pushes_to_every_device_and_retries_only_the_one_that_failed(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    account = factories.business_with_owner(app_settings)
    phone_id, phone = device(app_settings, push_service, account)
    laptop_id, laptop = device(app_settings, push_service, account)
    push_service.fail(laptop["endpoint"], times=1, status=503)
    queue(app_settings, account.tenant_id, phone_id, new_message(), laptop_id)

    run_jobs(app_settings)

    assert len(push_service.deliveries(phone["endpoint"])) == 1
    assert push_service.deliveries(laptop["endpoint"]) == []
    [(retry_id, status, _, _)] = push_jobs(owner_conn, laptop_id)[1:]
    assert status == "todo" and push_jobs(owner_conn, phone_id)[1:] == []
    owner_conn.execute(
        "update procrastinate_jobs set scheduled_at = now() where id = %s", (retry_id,)
    )

    run_jobs(app_settings)

    assert len(push_service.deliveries(laptop["endpoint"])) == 1
    assert len(push_service.deliveries(phone["endpoint"])) == 1, "the phone is not pushed twice"


def test_retry_after_from_a_busy_push_service_is_honoured(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    account = factories.business_with_owner(app_settings)
    subscription_id, browser = device(app_settings, push_service, account)
    push_service.fail(browser["endpoint"], times=1, status=429, retry_after="600")
    queue(app_settings, account.tenant_id, subscription_id, new_message())

    run_jobs(app_settings)

    [_, (_, status, _, scheduled_at)] = push_jobs(owner_conn, subscription_id)
    assert status == "todo"
    # The backoff alone would be 4 s; the push service asked for ten minutes.
    assert scheduled_at > datetime.now(UTC) + timedelta(seconds=500)


def test_a_push_for_a_device_removed_meanwhile_or_of_another_business_sends_nothing(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    account = factories.business_with_owner(app_settings)
    other = factories.business_with_owner(app_settings)
    removed_id, removed = device(app_settings, push_service, account)
    walled_id, walled = device(app_settings, push_service, account)
    queue(app_settings, account.tenant_id, removed_id, new_message())
    # A job naming another business's device: the wall hides the row from it.
    queue(app_settings, other.tenant_id, walled_id, new_message())

    async def remove(services: Services) -> None:
        async with services.unit_of_work(account.tenant_id) as uow:
            await subscriptions.unsubscribe(uow, account.user_id, removed_id)

    factories.run(app_settings, remove)

    run_jobs(app_settings)

    assert push_service.deliveries(removed["endpoint"]) == []
    assert push_service.deliveries(walled["endpoint"]) == []
    assert [s for _, s, _, _ in push_jobs(owner_conn, removed_id)] == ["succeeded"]
    assert [s for _, s, _, _ in push_jobs(owner_conn, walled_id)] == ["succeeded"]
    assert stored(app_settings, account.tenant_id, walled_id) is not None


def keys_of(browser: dict[str, Any]) -> subscriptions.Keys:
    return subscriptions.Keys(p256dh=browser["keys"]["p256dh"], auth=browser["keys"]["auth"])


def test_the_stand_in_refuses_a_push_signed_with_another_key(
    app_settings: Settings, push_service: PushService
) -> None:
    browser = push_service.subscribe(push.vapid_public_key(app_settings))
    endpoint = browser["endpoint"]
    message = new_message()
    impostor = app_settings.model_copy(update={"vapid_private_key": generate_vapid_private_key()})

    async def deliver(settings: Settings) -> push.Outcome:
        async with push_client() as http:
            return await push.deliver(http, settings, endpoint, keys_of(browser), message)

    # Another server's key, honestly named in k=: not the key this device subscribed with.
    assert run_async(lambda: deliver(impostor)) == push.Outcome(push.Result.REJECTED, 403)
    # Another server's signature under our public key: the signature check fails.
    forged = Vapid(load_vapid_private_key(impostor.vapid_private_key)).sign(
        {
            "aud": push.origin(endpoint),
            "exp": int(datetime.now(UTC).timestamp()) + 3600,
            "sub": "mailto:support@clientcompass.co.za",
        }
    )["Authorization"]
    token = forged.split("t=", 1)[1].split(",", 1)[0]
    headers = push.request_headers(app_settings, endpoint, message)
    headers["Authorization"] = f"vapid t={token}, k={push.vapid_public_key(app_settings)}"
    body = push.encrypt(endpoint, keys_of(browser), message)
    assert httpx.post(endpoint, content=body, headers=headers).status_code == 401
    # A token for another push service's origin.
    headers = push.request_headers(app_settings, "https://fcm.googleapis.com/fcm/send/x", message)
    assert httpx.post(endpoint, content=body, headers=headers).status_code == 401
    reasons = [r.reason for r in push_service.rejections(endpoint)]
    assert "applicationServerKey" in reasons[0]
    assert "InvalidSignatureError" in reasons[1] and "InvalidAudienceError" in reasons[2]
    assert push_service.deliveries(endpoint) == []
    # And the genuine request, for contrast, is taken.
    assert run_async(lambda: deliver(app_settings)) == push.Outcome(push.Result.DELIVERED, 201)


def test_the_stand_in_refuses_what_a_browser_could_not_read(
    app_settings: Settings, push_service: PushService
) -> None:
    browser = push_service.subscribe(push.vapid_public_key(app_settings))
    endpoint = browser["endpoint"]
    message = new_message()
    other_device = push_service.subscribe(push.vapid_public_key(app_settings))
    # Encrypted to another device's keys: this one's private key cannot open it.
    body = push.encrypt(endpoint, keys_of(other_device), message)
    headers = push.request_headers(app_settings, endpoint, message)
    assert httpx.post(endpoint, content=body, headers=headers).status_code == 400
    headers.pop("TTL")
    body = push.encrypt(endpoint, keys_of(browser), message)
    assert httpx.post(endpoint, content=body, headers=headers).status_code == 400
    assert push_service.deliveries(endpoint) == []


def test_the_benchmarks_stand_in_decrypts_later_and_still_catches_an_unreadable_push(
    app_settings: Settings,
) -> None:
    """bench/notify's stand-in checks on arrival and decrypts when the deliveries are read
    (the phone's CPU is not the server's): a push nobody could read still fails the run."""
    server = PushServiceServer(decrypt_on_receipt=False)
    service = server.start()
    try:
        key = push.vapid_public_key(app_settings)
        browser, other_device = service.subscribe(key), service.subscribe(key)
        endpoint = browser["endpoint"]
        message = new_message()
        headers = push.request_headers(app_settings, endpoint, message)
        good = push.encrypt(endpoint, keys_of(browser), message)
        assert httpx.post(endpoint, content=good, headers=headers).status_code == 201
        [delivery] = service.wait_for_deliveries(1)
        assert delivery.payload["body"] == message.body
        assert delivery.received_at <= time.time()
        # Encrypted to another device's keys: accepted (a push service can't tell), unreadable.
        bad = push.encrypt(endpoint, keys_of(other_device), message)
        assert httpx.post(endpoint, content=bad, headers=headers).status_code == 201
        with pytest.raises(Refused, match="does not decrypt"):
            service.deliveries()
        # The push service's own checks still run on arrival.
        headers.pop("TTL")
        assert httpx.post(endpoint, content=good, headers=headers).status_code == 400
    finally:
        server.stop()


def test_the_private_key_payload_and_device_keys_never_reach_the_log(
    app_settings: Settings,
    push_service: PushService,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    configure_logging("DEBUG")
    account = factories.business_with_owner(app_settings)
    delivered_id, delivered = device(app_settings, push_service, account)
    gone_id, gone = device(app_settings, push_service, account)
    failing_id, failing = device(app_settings, push_service, account)
    push_service.gone(gone["endpoint"])
    push_service.fail(failing["endpoint"], times=1)
    secret_body = f"Gate code {uuid.uuid4().hex}"
    for subscription_id in (delivered_id, gone_id, failing_id):
        queue(app_settings, account.tenant_id, subscription_id, new_message(body=secret_body))
    capfd.readouterr()

    run_jobs(app_settings)

    logged = "".join(capfd.readouterr())
    assert len(push_service.deliveries(delivered["endpoint"])) == 1
    assert "push subscription gone" in logged  # the log was captured
    assert app_settings.vapid_private_key not in logged
    assert secret_body not in logged
    for browser in (delivered, gone, failing):
        assert browser["keys"]["auth"] not in logged
        assert browser["keys"]["p256dh"] not in logged


def test_a_push_is_queued_ahead_of_other_work(
    app_settings: Settings, push_service: PushService, owner_conn: psycopg.Connection
) -> None:
    """In a burst, a handled message's pushes go before the next message's follow-up."""
    account = factories.business_with_owner(app_settings)
    subscription_id, _ = device(app_settings, push_service, account)
    queue(app_settings, account.tenant_id, subscription_id, new_message())
    [(priority,)] = owner_conn.execute(
        "select priority from procrastinate_jobs where task_name = %s "
        "and args->'subscription_ids' ? %s",
        (PUSH_TASK, str(subscription_id)),
    ).fetchall()
    assert priority == push.PUSH_PRIORITY > 0
    inbound = owner_conn.execute(
        "select coalesce(max(priority), 0) from procrastinate_jobs "
        "where task_name = 'conversations.inbound_recorded'"
    ).fetchone()
    assert inbound is not None and inbound[0] < priority
    run_jobs(app_settings)
