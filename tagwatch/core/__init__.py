"""The pure core: references, digests, moves, skew and alerts. No I/O and no clock."""
