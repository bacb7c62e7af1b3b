"""aman.api package."""
