"""Supplies given out and stock held per site; services given on site."""
