"""An issued document's PDF as it was stored: the legal copy every download serves, refused
if it is gone or its bytes are not the ones issued; a draft (or a reprint) renders instead."""

from __future__ import annotations

import uuid

from clientcompass import files
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents.service import Kind, load, render_pdf
from clientcompass.errors import Conflict
from clientcompass.models import Document, DocumentStatus
from clientcompass.storage import Storage


class StoredPdfMissing(Conflict):
    code = "pdf_missing"


async def pdf_bytes(
    uow: UnitOfWork,
    document_id: uuid.UUID,
    kind: Kind | None,
    *,
    keyring: Keyring,
    storage: Storage,
    reprint: bool = False,
) -> tuple[Document, files.Download]:
    """The issued PDF exactly as stored (checked against its hash as it is served); a draft
    renders a preview, and `reprint` renders a fresh copy marked "Copy"."""
    loaded = await load(uow, document_id, kind)
    document = loaded.document
    if document.status == DocumentStatus.DRAFT or reprint:
        rendered = await render_pdf(uow, keyring, loaded, reprint=reprint)
        return document, files.Download.of_bytes(rendered, "application/pdf")
    return document, await _stored_pdf(uow, storage.reader, document)


async def stored_pdf_file(uow: UnitOfWork, document: Document) -> uuid.UUID:
    """The id of an issued document's stored PDF (to send a copy of it)."""
    return (await _stored_pdf(uow, None, document)).info.id


MISMATCH = "The stored PDF does not match its fingerprint. Ask support."


async def _stored_pdf(
    uow: UnitOfWork, reader: files.ChunkReader | None, document: Document
) -> files.Download:
    """The issued PDF as stored, refused if it is gone or is not the one that was issued."""
    try:
        stored = await files.open_document_pdf(uow, reader, document.id)
    except files.FileCorrupted as exc:
        raise StoredPdfMissing(MISMATCH) from exc
    if stored is None:
        raise StoredPdfMissing("The stored PDF of this document is missing. Ask support to help.")
    if stored.info.sha256 != document.pdf_sha256:
        raise StoredPdfMissing(MISMATCH)
    return stored
