"""The tamper-evident audit ledger, stored in the database (see aman.security.ledger)."""
