"""File input/output: FITS maps, catalogues, atomic writes."""
