"""Players' wallets: points and coins balances kept by an append-only ledger."""
