"""Player data requests: export everything stored about a player, or erase it.

Each kind of player data is one section (``sections``); the core registers its own and the
apps above register theirs in ``AppConfig.ready()``.
"""
