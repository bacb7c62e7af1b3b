"""aman.guard package."""
