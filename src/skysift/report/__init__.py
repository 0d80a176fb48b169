"""Figures and tables made from stage outputs only."""
