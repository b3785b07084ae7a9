"""The `ledger` command line: a thin shell over the ledger's engines."""
