"""Marketing consent, as POPIA s69 requires for direct marketing: a customer can object at any
time, for free, in the channel they were reached on, and the business must stop.

A contact is opted in by default (they wrote to the business). A reply that is *only* an
opt-out keyword opts them out, with a confirmation in their language; an opt-in keyword opts
them back in. A member may also record either by hand, with a reason (a customer who asked on
the phone). Every change is a row in `marketing_consent_events`, the proof; the current state
is on the contact, where `conversations.send()` reads it to refuse MARKETING templates, and
`opted_out()` answers the flows engine (which never messages an opted-out contact).

The keywords (compared after folding case, accents, punctuation and spaces, so "Stop.",
" yeka ", "Opt-out" and "STOP 🛑" match, and "please don't stop the work" does not):

| opts | English | Afrikaans | isiZulu | isiXhosa |
|---|---|---|---|---|
| out | STOP, STOP ALL, UNSUBSCRIBE, UNSUB, OPT OUT, STOP PROMOTIONS | STOP, STAAK, HOU OP, AFMELD, MELD AF, UITTEKEN, TEKEN UIT | YEKA, MISA, YIMA | YEKA, MISA, YIMA, NQUMAMA |
| in | START, UNSTOP, SUBSCRIBE, OPT IN | BEGIN, HERVAT, INTEKEN, TEKEN IN | QALA, QALISA | QALA, QALISA |

- "STOP PROMOTIONS" is the text of WhatsApp's own opt-out button on marketing templates.
- Left out on purpose: CANCEL / KANSELLEER, END, QUIT and NO. To a plumber, a bare "Cancel"
  nearly always means the booking, and an unasked "you are unsubscribed" reply would confuse
  the customer in the middle of a job. The confirmation names the words that do work.
- YEKA, MISA, YIMA, QALA and QALISA are shared by isiZulu and isiXhosa, so their confirmation
  is in both; every confirmation ends in English too, for a team member reading the thread.
- An opt-in keyword from a contact who never opted out does nothing (no reply, no history):
  "Start" or "Begin" as a first message is more likely a flow's trigger than a consent.
- STOP from a contact already opted out is confirmed again (they want to know it worked), but
  the history gains no row: nothing changed.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select, update

from clientcompass.auth.principal import Principal
from clientcompass.contacts import repository
from clientcompass.conversations import service as conversations
from clientcompass.conversations.inbound import Inbound
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.models import BusinessProfile, Contact, MarketingConsentEvent, Tenant
from clientcompass.realtime.bus import Event
from clientcompass.whatsapp.outbound import Outgoing

log = structlog.get_logger(__name__)

MAX_REASON = 500
# Longer than any keyword with room for spaces and punctuation: longer texts are sentences.
LONGEST_MESSAGE = 40

EN, AF, ZU, XH = "en", "af", "zu", "xh"
NGUNI = (ZU, XH)

# Each keyword as the history shows it → the languages it is a keyword in.
OPT_OUT: dict[str, tuple[str, ...]] = {
    "STOP": (EN,),  # Afrikaans says STOP too; English is the one everybody reads
    "STOP ALL": (EN,),
    "UNSUBSCRIBE": (EN,),
    "UNSUB": (EN,),
    "OPT OUT": (EN,),
    "STOP PROMOTIONS": (EN,),
    "STAAK": (AF,),
    "HOU OP": (AF,),
    "AFMELD": (AF,),
    "MELD AF": (AF,),
    "UITTEKEN": (AF,),
    "TEKEN UIT": (AF,),
    "YEKA": NGUNI,
    "MISA": NGUNI,
    "YIMA": NGUNI,
    "NQUMAMA": (XH,),
}
OPT_IN: dict[str, tuple[str, ...]] = {
    "START": (EN,),
    "UNSTOP": (EN,),
    "SUBSCRIBE": (EN,),
    "OPT IN": (EN,),
    "BEGIN": (AF,),
    "HERVAT": (AF,),
    "INTEKEN": (AF,),
    "TEKEN IN": (AF,),
    "QALA": NGUNI,
    "QALISA": NGUNI,
}

OPTED_OUT_REPLY = {
    EN: (
        "You have opted out: {business} will not send you marketing messages any more. You "
        "will still get replies and messages about your jobs, quotes and invoices. Reply "
        "START to opt back in."
    ),
    AF: (
        "Jy is afgemeld: {business} sal jou nie meer bemarkingsboodskappe stuur nie. Jy kry "
        "steeds antwoorde en boodskappe oor jou werk, kwotasies en fakture. Antwoord BEGIN om "
        "weer in te teken."
    ),
    ZU: (
        "Uphumile: {business} ngeke isakuthumelela imilayezo yokukhangisa. Uzoqhubeka uthola "
        "izimpendulo nemilayezo emayelana nomsebenzi wakho. Phendula ngo-QALA ukuze uphinde "
        "ungene."
    ),
    XH: (
        "Uphumile: {business} ayisayi kuphinda ikuthumelele imiyalezo yentengiso. Uya kuqhubeka "
        "ufumana iimpendulo nemiyalezo ngomsebenzi wakho. Phendula ngo-QALA ukuze ubuyele."
    ),
}
OPTED_IN_REPLY = {
    EN: "You have opted back in: {business} may send you offers and news. Reply STOP at any "
    "time to opt out.",
    AF: "Jy is weer ingeteken: {business} mag jou aanbiedinge en nuus stuur. Antwoord STOP "
    "enige tyd om af te meld.",
    ZU: "Usubuyile: {business} ingakuthumelela okukhangisayo nezindaba. Phendula ngo-YEKA "
    "noma nini ukuze uphume.",
    XH: "Ubuyile: {business} inokukuthumelela izibonelelo neendaba. Phendula ngo-YEKA "
    "nangaliphi na ixesha ukuze uphume.",
}


def fold(text: str) -> str:
    """Lower case, accents and punctuation (and emoji) dropped, words joined: the form the
    keyword tables use, so "Opt-out!", "OPT OUT" and "optout" are one keyword."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[\W_]+", "", bare.casefold())


@dataclass(frozen=True)
class Keyword:
    opts_in: bool
    word: str  # as the history and the contact page show it: "STOP", "YEKA"
    languages: tuple[str, ...]


KEYWORDS: dict[str, Keyword] = {
    fold(word): Keyword(opts_in, word, languages)
    for opts_in, table in ((False, OPT_OUT), (True, OPT_IN))
    for word, languages in table.items()
}


def parse(body: str) -> Keyword | None:
    """The consent keyword this whole message is, if it is one."""
    if len(body) > LONGEST_MESSAGE:
        return None
    return KEYWORDS.get(fold(body))


def confirmation(keyword: Keyword, business: str) -> str:
    """The reply: in each language the keyword belongs to, then English."""
    texts = OPTED_IN_REPLY if keyword.opts_in else OPTED_OUT_REPLY
    languages = [*keyword.languages, *([] if EN in keyword.languages else [EN])]
    return "\n\n".join(texts[language].format(business=business) for language in languages)


async def business_name(uow: UnitOfWork) -> str:
    assert uow.tenant_id is not None
    profile = await uow.session.get(BusinessProfile, uow.tenant_id)
    if profile is not None and profile.trading_name.strip():
        return profile.trading_name.strip()
    tenant = await uow.session.get(Tenant, uow.tenant_id)
    return tenant.name if tenant is not None else "This business"


def _note(event: MarketingConsentEvent) -> str:
    """How the contact opted out, for the refusal message and the contact page."""
    if event.via == "keyword":
        return f"replied {event.keyword}"
    reason = f": {event.reason}" if event.reason else ""
    return f"recorded by {event.member_name}{reason}"[:300]


def _apply(uow: UnitOfWork, contact: Contact, event: MarketingConsentEvent) -> None:
    """Write the history row and the contact's state it leads to, and tell open pages."""
    uow.session.add(event)
    if event.opted_in:
        contact.marketing_opted_out_at = None
        contact.marketing_opt_out_note = ""
    else:
        contact.marketing_opted_out_at = event.created_at
        contact.marketing_opt_out_note = _note(event)
    uow.announce(Event.CONTACT_CONSENT, contact_id=str(contact.id), opted_in=event.opted_in)


async def on_inbound(uow: UnitOfWork, inbound: Inbound) -> None:
    """The inbound handler: a reply that is only STOP (or its equivalents) opts the contact out
    and is confirmed; START opts back in. Runs once per message (conversations/inbound.py)."""
    keyword = parse(inbound.body)
    if keyword is None:
        return
    assert uow.tenant_id is not None
    contact = await uow.session.scalar(
        select(Contact)
        .where(Contact.tenant_id == uow.tenant_id)
        .where(Contact.id == inbound.conversation.contact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contact is None:
        return
    opted_out_now = contact.marketing_opted_out_at is not None
    if keyword.opts_in and not opted_out_now:
        return  # nothing to undo, and perhaps a flow's keyword
    if keyword.opts_in == opted_out_now:
        _apply(
            uow,
            contact,
            MarketingConsentEvent(
                tenant_id=uow.tenant_id,
                id=uuid.uuid4(),
                contact_id=contact.id,
                opted_in=keyword.opts_in,
                via="keyword",
                keyword=keyword.word[:40],
                language=",".join(keyword.languages),
                message_id=inbound.message.id,
                created_at=uow.now,
            ),
        )
        await uow.session.flush()
    reply = Outgoing(body=confirmation(keyword, await business_name(uow)))
    try:
        # A confirmation that cannot go (the number was disconnected) must not undo the
        # opt-out: the savepoint drops the send alone.
        async with uow.session.begin_nested():
            await conversations.send(uow, None, inbound.conversation.id, reply)
    except DomainError as exc:
        log.warning("consent confirmation not sent", contact_id=str(contact.id), reason=exc.message)


async def opted_out(uow: UnitOfWork, contact_id: uuid.UUID) -> bool:
    """Whether this contact objected to marketing (for flows: never message them, except to
    confirm)."""
    assert uow.tenant_id is not None
    at = await uow.session.scalar(
        select(Contact.marketing_opted_out_at)
        .where(Contact.tenant_id == uow.tenant_id)
        .where(Contact.id == contact_id)
    )
    return at is not None


async def record_by_member(
    uow: UnitOfWork, actor: Principal, contact_id: uuid.UUID, *, opted_in: bool, reason: str
) -> Contact:
    """A member records what the customer said elsewhere (on the phone, by email). No
    message is sent: the customer did not write."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput(
            "Say why, for example: asked on the phone not to get offers.", field="reason"
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    contact = await repository.get(uow, contact_id, for_update=True)
    if (contact.marketing_opted_out_at is None) == opted_in:
        state = "opted in to" if opted_in else "opted out of"
        raise InvalidInput(f"This contact is already {state} marketing messages.", field="reason")
    _apply(
        uow,
        contact,
        MarketingConsentEvent(
            tenant_id=contact.tenant_id,
            id=uuid.uuid4(),
            contact_id=contact.id,
            opted_in=opted_in,
            via="member",
            reason=reason,
            member_id=actor.user_id,
            member_name=actor.name[:200],
            created_at=uow.now,
        ),
    )
    await uow.session.flush()
    return contact


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    opted_in: bool
    how: str

    @property
    def when(self) -> str:
        return format_date(self.at)


def format_date(at: datetime) -> str:
    local = at.astimezone(conversations.CONSENT_TIMEZONE)
    return f"{local.day} {local:%b %Y}, {local:%H:%M}"


async def history(uow: UnitOfWork, contact_id: uuid.UUID) -> list[HistoryLine]:
    """Every change, newest first, as the contact page lists it."""
    await repository.get(uow, contact_id)
    events = await uow.session.scalars(
        select(MarketingConsentEvent)
        .where(MarketingConsentEvent.tenant_id == repository.tenant_id_of(uow))
        .where(MarketingConsentEvent.contact_id == contact_id)
        .order_by(MarketingConsentEvent.created_at.desc(), MarketingConsentEvent.id.desc())
    )
    return [
        HistoryLine(event.created_at, event.opted_in, _note(event)[:1].upper() + _note(event)[1:])
        for event in events
    ]


async def merge_into(uow: UnitOfWork, keep: Contact, duplicate: Contact) -> None:
    """A merge keeps both histories on the kept contact, and the person's latest choice (on
    either number) decides the state: an objection is the person's, not the number's."""
    await uow.session.execute(
        update(MarketingConsentEvent)
        .where(MarketingConsentEvent.tenant_id == keep.tenant_id)
        .where(MarketingConsentEvent.contact_id == duplicate.id)
        .values(contact_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    latest = await uow.session.scalar(
        select(MarketingConsentEvent)
        .where(MarketingConsentEvent.tenant_id == keep.tenant_id)
        .where(MarketingConsentEvent.contact_id == keep.id)
        .order_by(MarketingConsentEvent.created_at.desc(), MarketingConsentEvent.id.desc())
        .limit(1)
    )
    if latest is None:
        return
    if latest.opted_in:
        keep.marketing_opted_out_at, keep.marketing_opt_out_note = None, ""
    else:
        keep.marketing_opted_out_at, keep.marketing_opt_out_note = latest.created_at, _note(latest)
