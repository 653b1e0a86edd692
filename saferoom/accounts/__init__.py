"""Logging in safely: two-factor login, lockout after failed logins, personal PINs for switching
user on a shared tablet, and the pages for each (see docs/adr/0013)."""
