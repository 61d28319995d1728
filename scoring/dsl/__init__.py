"""The scoring DSL: validate, compile once, run many (see docs/dsl.md)."""
