"""Schemathesis over the live JSON API, signed in with an API token: every operation in
/api/v1/openapi.json gets generated valid and invalid requests over real HTTP, and every
answer must be no server error, documented (status, content type, headers, body schema) and
free of any other business's ids or data.

Bounded to fit the suite: few examples per operation, a fixed seed (a failure reproduces),
no example database, no deadline (a shared CI machine is slow at times, not wrong).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as sync_redis
import schemathesis
from schemathesis import Case, CheckContext, Response

from tests.conftest import LiveServer, StandinServer
from tests.security.conftest import Tenant, populated_business

# Examples per operation in the fuzzing phase; the examples and coverage phases add the
# schema's own examples and its boundary cases. About a minute for the whole API.
MAX_EXAMPLES = 3
SEED = 20261203
# A live event stream never ends, so no generated request could be answered in full; its
# tenant wall is tested in tests/realtime.
STREAMS = ["/api/v1/events"]


@pytest.fixture(scope="module")
def fuzzer(live_server: LiveServer, standin: StandinServer, redis_url: str) -> Iterator[Tenant]:
    """The signed-in business whose API is fuzzed, with one of everything, so that reads
    answer with real objects for the schema checks to look at. The generated passwords (to
    close the business, to erase a customer) count against the sign-in throttle, per account
    and per address; it is cleared afterwards, or later tests from 127.0.0.1 could not sign in."""
    tenant = populated_business(live_server, standin, "Fuzzer")
    yield tenant
    tenant.client.close()
    redis = sync_redis.Redis.from_url(redis_url)
    for key in redis.scan_iter("login-fail:*"):
        redis.delete(key)
    redis.close()


@pytest.fixture(scope="module")
def api_schema(live_server: LiveServer, fuzzer: Tenant) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            # Every check but one: a request the schema allows may still break a business
            # rule no JSON schema can state (a real phone number, a Twilio account that
            # exists, the right password, a customer of yours), and 422 says so.
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )
    return schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path=STREAMS)


@schema.parametrize()
def test_the_api_answers_every_generated_request_as_documented(
    case: Case, fuzzer: Tenant, victim: Tenant
) -> None:
    foreign = sorted(victim.all_ids()) + victim.secrets

    def shows_no_other_business(ctx: CheckContext, response: Response, case: Case) -> None:
        body = response.content.decode(errors="replace")
        shown = [value for value in foreign if value in body]
        assert not shown, f"the answer shows another business's data: {shown}"

    case.call_and_validate(headers=fuzzer.bearer, additional_checks=[shows_no_other_business])
