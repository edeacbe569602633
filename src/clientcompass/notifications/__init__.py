"""Notifications: web push and email, per person, triggered by the domain's events."""
