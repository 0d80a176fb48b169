"""Fetch public data (FIRST/NVSS cutouts, MiraBest, CK04 grid) into a checksummed cache."""
