"""The audit trail: who signed in, changed access or destroyed data, kept 90 days."""
