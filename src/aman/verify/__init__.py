"""Step-up verification: single-use links that unlock a short verified session in chat."""
