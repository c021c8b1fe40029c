"""The gallery's pictures: pattern thumbnails, exemplar mosaics, seed strips, activation grids, kernels."""

from __future__ import annotations

import numpy as np

from .. import models
from ..files.output import OutputDir
from ..models import forward
from ..patterns import layout
from ..pixels import images
from . import thumbs
from .site import LayerResult, Site


def write_all(site: Site) -> None:
    first_conv = models.first_convolution(models.list_layers(site.loaded.model))
    pictures, exemplars = _exemplar_maps(site)
    for r in site.layers:
        kernels = _kernels(site, r) if first_conv is not None and first_conv.name == r.info.name else None
        for m in range(r.info.maps):
            _thumb(site, r, m, kernels)
            _seed_strip(site, r, m)
            if r.negative is not None:
                _negative(site, r, m)
            if r.accentuated is not None:
                _accentuated(site, r, m)
            if r.diverse is not None:
                _diverse(site, r, m)
        if r.info.name in exemplars:
            _exemplars(site, r, pictures, exemplars[r.info.name])
        _sample_grids(site, r)
    if site.classes is not None:
        _class_pictures(site, site.classes.layer)
    for sample in site.samples:
        shown = thumbs.to_rgb(images.to_unit(sample.input, site.settings.input_range))
        _write(
            site,
            layout.explain(sample.path, "png"),
            thumbs.upscale(shown, thumbs.factor_for(shown.shape[0], thumbs.MAP_PX)),
        )


def _write(site: Site, path: str, pixels: np.ndarray) -> None:
    site.out.write(path, images.png_bytes(pixels))


def write_drawn(out: OutputDir, path: str, pixels: np.ndarray) -> None:
    """A picture drawn from float activations, which round differently on another CPU.

    A saved one that differs by at most one colour step in any pixel stays as it is, so a gallery
    made on one CPU is reused to the byte on another.
    """
    if not out.kept(path, lambda saved: thumbs.one_step_apart(saved, pixels)):
        out.write(path, images.png_bytes(pixels))


def _thumb(site: Site, r: LayerResult, m: int, kernels: np.ndarray | None) -> None:
    """The first seed's pattern; for the first convolution, its kernel beside it."""
    pattern = np.nan_to_num(r.first.images[m])
    factor = thumbs.factor_for(pattern.shape[0])
    tile = thumbs.upscale(thumbs.to_rgb(pattern), factor)
    if kernels is not None:
        kernel = thumbs.upscale(kernels[m], max(1, tile.shape[0] // kernels[m].shape[0]))
        tile = thumbs.mosaic([thumbs.pad_to(kernel, tile.shape[:2]), tile], 2)
    _write(site, layout.map_picture(r.info, "thumb", m), tile)


def _kernels(site: Site, r: LayerResult) -> np.ndarray:
    """Every filter of the first convolution as an RGB tile, and the layer's kernel mosaic."""
    weights = models.get_layer(site.loaded.model, r.info.name).get_weights()[0]
    _write(site, layout.kernels(r.info), thumbs.kernels(weights))
    return np.stack(thumbs.kernel_tiles(weights))


def _seed_strip(site: Site, r: LayerResult, m: int) -> None:
    strip = []
    for patterns in r.patterns.values():
        pattern = np.nan_to_num(patterns.images[m])
        strip.append(thumbs.upscale(thumbs.to_rgb(pattern), thumbs.factor_for(pattern.shape[0], thumbs.MAP_PX)))
    _write(site, layout.map_picture(r.info, "seeds", m), thumbs.mosaic(strip, len(strip)))


def _negative(site: Site, r: LayerResult, m: int) -> None:
    pattern = np.nan_to_num(r.negative.images[m])
    tile = thumbs.upscale(thumbs.to_rgb(pattern), thumbs.factor_for(pattern.shape[0], thumbs.MAP_PX))
    _write(site, layout.map_picture(r.info, "negative", m), tile)


def _accentuated(site: Site, r: LayerResult, m: int) -> None:
    """The map's top natural image and its accentuation, side by side."""
    pair = [r.accentuated.seeds[m], r.accentuated.images[m]]
    tiles = [thumbs.upscale(thumbs.to_rgb(p), thumbs.factor_for(p.shape[0], thumbs.MAP_PX)) for p in pair]
    _write(site, layout.map_picture(r.info, "accentuated", m), thumbs.mosaic(tiles, 2))


def _diverse(site: Site, r: LayerResult, m: int) -> None:
    group = r.diverse.images[m]
    tiles = [thumbs.upscale(thumbs.to_rgb(p), thumbs.factor_for(p.shape[0], thumbs.MAP_PX)) for p in group]
    _write(site, layout.map_picture(r.info, "diverse", m), thumbs.mosaic(tiles, len(tiles)))


def _exemplar_maps(site: Site) -> tuple[np.ndarray | None, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every layer's top natural images, once (N, H, W, C), and per layer with natural images the rows of its
    maps' top images (maps, k) with each one's activation map of that map (maps, k, h, w): one pass for all."""
    layers = [r for r in site.layers if r.stats is not None and r.stats.top.size]
    if not layers:
        return None, {}
    wanted = sorted({int(i) for r in layers for i in r.stats.top.ravel()})
    pictures = site.dataset.take(wanted, models.input_shape(site.loaded.model))
    row_of = np.zeros(max(wanted) + 1, np.int64)
    row_of[wanted] = np.arange(len(wanted))
    rows = {r.info.name: row_of[r.stats.top] for r in layers}
    maps_of = {k: np.repeat(np.arange(len(top)), top.shape[1]) for k, top in rows.items()}
    picks = {k: np.stack([top.ravel(), maps_of[k]], axis=1) for k, top in rows.items()}
    found = forward.picked(site.loaded.model, images.to_range(pictures, site.settings.input_range), picks)
    return pictures, {k: (top, found[k].reshape(*top.shape, *found[k].shape[1:])) for k, top in rows.items()}


def _exemplars(site: Site, r: LayerResult, pictures: np.ndarray, top: tuple[np.ndarray, np.ndarray]) -> None:
    """Per map: a 3x3 mosaic of its top natural images with the map's activation overlaid."""
    rows, acts = top
    factor = thumbs.factor_for(pictures.shape[1], 72)
    for m in range(r.info.maps):
        vmax = max(float(acts[m].max()), 1e-8)
        tiles = [thumbs.upscale(thumbs.overlay(pictures[row], act, vmax), factor) for row, act in zip(rows[m], acts[m])]
        write_drawn(site.out, layout.map_picture(r.info, "top", m), thumbs.mosaic(tiles, 3))


def _class_pictures(site: Site, r: LayerResult) -> None:
    """Per class: its pattern, its seeds, and its top natural images (of that class, by its logit)."""
    for m in range(r.info.units):
        _thumb(site, r, m, None)
        _seed_strip(site, r, m)
    if r.stats is None:
        return
    wanted = sorted(set(r.stats.top.ravel().tolist()))
    pictures = site.dataset.take(wanted, models.input_shape(site.loaded.model))
    row_of = {idx: i for i, idx in enumerate(wanted)}
    factor = thumbs.factor_for(pictures.shape[1], 72)
    for m in range(r.info.units):
        tiles = [thumbs.upscale(thumbs.to_rgb(pictures[row_of[i]]), factor) for i in r.stats.top[m]]
        _write(site, layout.map_picture(r.info, "top", m), thumbs.mosaic(tiles, 3))


def _sample_grids(site: Site, r: LayerResult) -> None:
    vmax = sample_vmax(site, r)
    for sample in site.samples:
        grid = thumbs.activation_grid(sample.maps[r.info.name], vmax)
        write_drawn(site.out, layout.sample_activations(r.info, sample.path), grid)


def sample_vmax(site: Site, r: LayerResult) -> float:
    """The one colour scale of a layer's sample activation grids."""
    return max(max(float(s.maps[r.info.name].max()) for s in site.samples), 1e-8)
