"""Loaded with ``-p`` before Django is configured: test-only defaults of required settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
