"""Evaluation and planning: the cost–benefit engine, presets, uncertainty, capacity planning.

The engine modules are pure Python + NumPy and import nothing from Django; only ``apps.py``,
``views.py``, ``urls.py`` and the site-data adapters do."""
