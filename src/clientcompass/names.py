"""What people call a contact, one rule everywhere: pages, the inbox, merges, documents."""

from __future__ import annotations

from clientcompass.phones import national


def display_name(name: str, profile_name: str, phone: str = "") -> str:
    """The name the business saved, else the customer's WhatsApp profile name, else their
    number as people read it."""
    return name.strip() or profile_name.strip() or (national(phone) if phone else "")
