"""Quotes, invoices and credit notes: money, numbering and PDFs."""
