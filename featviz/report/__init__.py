"""Reports: the gallery site and model comparisons.

gallery.py   orchestration: scan, patterns per layer and seed, then pictures and pages
site.py      what the pages are made from (settings, layer and sample results)
pictures.py  thumbnails, exemplar mosaics, seed strips, activation grids, kernels
pages.py     the index, layer, map and explain pages
html.py      escaped HTML building blocks and the stylesheet
thumbs.py    small RGB pictures with NumPy and Pillow
compare.py   the same image through several models
"""
