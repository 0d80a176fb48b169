"""Synthetic stellar SEDs: ck04 model grid, cool-star extension, dust, passband photometry."""
