"""Leaderboards: per-period rankings of a game's and of each task's players.

Entries are kept by the award's own write (``sql``), read as index ranges (``selectors``),
rebuilt from the award ledger (``services``), and ranked through an optional Redis cache
(``cache``) that PostgreSQL, the source of truth, can always stand in for.
"""
