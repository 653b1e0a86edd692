"""Rows of the access table for each area, one module per area (see tests/access_table.py)."""
