"""CSV downloads for the accountant: /quotes/export.csv and /invoices/export.csv for the
signed-in pages, and /api/v1/{quotes,invoices}/export.csv for the JSON API's callers.

Registered before the documents' `/{id}` routes, so "export.csv" is never read as an id.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from clientcompass.auth.permissions import Permission
from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.documents import export
from clientcompass.documents.service import Kind
from clientcompass.documents.status import business_today
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.state import AppState

router = APIRouter()
COLLECTIONS = {Kind.QUOTE: "quotes", Kind.INVOICE: "invoices"}


async def csv_response(
    state: AppState,
    principal: Principal,
    kind: Kind,
    *,
    status: str,
    customer: str,
    date_from: str,
    date_to: str,
) -> Response:
    principal.require(Permission.EXPORT)
    filters = export.filters_from(status, customer, date_from, date_to)
    async with state.unit_of_work(principal.tenant_id) as uow:
        content = await export.export_csv(uow, kind, filters)
        profile = await business.profile_of(uow, principal.tenant_id)
        today = business_today(profile.timezone, uow.now)
    return Response(
        content.encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{export.filename(kind, today)}"',
            "cache-control": "private, no-store",
        },
    )


def _routes(kind: Kind) -> None:
    collection = COLLECTIONS[kind]

    async def download(
        state: State,
        principal: CurrentPrincipal,
        status: str = Query("", max_length=20),
        customer: str = Query("", max_length=40, description="a contact id"),
        contact_id: str = Query("", max_length=40, description="the same as customer"),
        date_from: str = Query("", max_length=10, description="issued on or after (YYYY-MM-DD)"),
        date_to: str = Query("", max_length=10, description="issued on or before (YYYY-MM-DD)"),
    ) -> Response:
        """Every matching issued document as CSV (amounts as plain decimals, formula-safe)."""
        return await csv_response(
            state,
            principal,
            kind,
            status=status,
            customer=customer or contact_id,
            date_from=date_from,
            date_to=date_to,
        )

    router.add_api_route(
        f"/{collection}/export.csv",
        download,
        methods=["GET"],
        include_in_schema=False,
        name=f"export_{collection}_page",
    )
    router.add_api_route(
        f"/api/v1/{collection}/export.csv",
        download,
        methods=["GET"],
        tags=["documents"],
        name=f"export_{collection}",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )


for _kind in COLLECTIONS:
    _routes(_kind)
