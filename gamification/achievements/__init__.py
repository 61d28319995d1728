"""Levels, streaks and badges of a game: defined per game, kept by the award's one write."""
