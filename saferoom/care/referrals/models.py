"""Referrals to other services, their follow-ups, and the consented identity record."""
