"""Benchmark suite: aman vs a bare HMAC server vs pywa, open-loop load on pinned cores."""
