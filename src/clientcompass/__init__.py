"""Client Compass: WhatsApp inbox, leads, quotes and invoices for small South African businesses."""

__version__ = "0.1.0"
