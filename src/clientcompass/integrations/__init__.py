"""Outgoing webhooks (Standard Webhooks) for Zapier, n8n and Make."""
