"""Tests of logging in safely: two-factor login, lockout, PINs and switching user."""
