"""Documents: the gapless number counters (quotes, invoices and credit notes come next)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned


class DocumentCounter(TenantOwned, Base):
    """The last number given in one numbering scope, e.g. invoices with prefix `INV-2026-`.

    Incremented inside the finalising transaction, so a rollback gives the number back
    (gapless) and concurrent finalisations queue on the row (unique).
    """

    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
