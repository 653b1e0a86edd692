"""Referrals, follow-ups and the consented identity record."""
