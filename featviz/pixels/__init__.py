"""Pixels: images read as model inputs and written as PNGs, input conventions, and figures of tiles."""
