"""Cost of being signed in: GET /api/v1/me with a session cookie (JWT check, Redis session
slide, a tenant-scoped user load) against GET /healthz on the same process."""

from __future__ import annotations

import asyncio
import re

import httpx

from bench.harness import drive, report, stack

TOTAL = 3000
CONCURRENCY = 16


def sign_up(url: str) -> httpx.Cookies:
    with httpx.Client(base_url=url) as client:
        page = client.get("/signup").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/signup",
            data={
                "business_name": "Bench Plumbing",
                "owner_name": "Bench",
                "email": "bench@example.co.za",
                "password": "bench password 1",
                "csrf_token": token,
            },
        )
        assert response.status_code == 303, response.text
        return client.cookies


def main() -> None:
    with stack() as app:
        cookies = sign_up(app.url)

        async def me(client: httpx.AsyncClient, _: int) -> httpx.Response:
            return await client.get("/api/v1/me", cookies=cookies)

        async def healthz(client: httpx.AsyncClient, _: int) -> httpx.Response:
            return await client.get("/healthz")

        asyncio.run(drive(300, CONCURRENCY, me, app.url))  # warm-up
        ceiling = asyncio.run(drive(TOTAL, CONCURRENCY, healthz, app.url))
        product = asyncio.run(drive(TOTAL, CONCURRENCY, me, app.url))
    report("authenticated_request_healthz", ceiling)
    report("authenticated_request_me", product)
    print(f"BENCH authenticated_request_ratio {product.throughput / ceiling.throughput:.2f} ratio")


if __name__ == "__main__":
    main()
