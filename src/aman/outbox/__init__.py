"""aman.outbox package."""
