"""aman.inbox package."""
