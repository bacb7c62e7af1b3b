"""aman.nlu package."""
