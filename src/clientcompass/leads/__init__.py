"""Leads: what a customer wants, from first message to won or lost."""
