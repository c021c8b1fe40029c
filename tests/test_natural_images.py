"""Natural images: folder trees and arrays, fitted by centre crop, scanned in bounded batches, merged exactly."""

from dataclasses import replace

import helpers
import numpy as np
import pytest
from PIL import Image

from featviz import models
from featviz.natural import datasets, exemplars
from featviz.runtime import stable


def test_fit_crops_the_centre_to_the_aspect_then_resizes():
    image = np.arange(4 * 8, dtype=np.float32).reshape(4, 8, 1) / 32
    np.testing.assert_array_equal(datasets.fit(image, (4, 4, 1)), image[:, 2:6])
    tall = np.arange(8 * 4, dtype=np.float32).reshape(8, 4, 1) / 32
    np.testing.assert_array_equal(datasets.fit(tall, (4, 4, 1)), tall[2:6])
    assert datasets.fit(image, (2, 2, 3)).shape == (2, 2, 3)


def test_a_folder_tree_is_read_recursively_with_one_class_per_folder(tmp_path):
    for path in ["cat/a.png", "cat/deep/b.jpg", "dog/c.png", "loose.png"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 9, 3), 100, np.uint8)).save(tmp_path / path)
    (tmp_path / "notes.txt").write_text("not an image")
    data = datasets.load(tmp_path)
    assert len(data) == 4 and data.classes == ["cat", "dog"]
    assert sorted(data.labels.tolist()) == [-1, 0, 0, 1]
    batches = list(data.batches((5, 5, 1), size=3))
    assert [start for start, _ in batches] == [0, 3] and batches[0][1].shape == (3, 5, 5, 1)
    np.testing.assert_allclose(batches[0][1], 100 / 255, atol=1e-6)


def test_bundled_exemplars_only_for_models_that_take_their_data():
    assert datasets.for_model((28, 28, 1), None).source == "bundled MNIST exemplars"
    cifar = datasets.for_model((32, 32, 3), None)
    assert cifar.source == "bundled CIFAR-10 exemplars" and cifar.x.shape[1:] == (32, 32, 3)
    assert cifar.class_count == 10 and np.bincount(cifar.labels).tolist() == [100] * 10
    assert datasets.for_model((64, 64, 3), None) is None


def brute_force(model, layer, x, k):
    maps = np.asarray(models.extractor(model, [layer])(x))
    values = maps.mean(axis=(1, 2))
    ranked = -stable.rank_key(values.T)
    order = np.lexsort((np.broadcast_to(np.arange(len(x))[:, None], values.shape).T, ranked), axis=-1)[:, :k]
    return values, (maps.max(axis=(1, 2)) > 0), order


def test_the_streamed_scan_matches_one_big_pass(monkeypatch):
    monkeypatch.setattr(exemplars, "SCAN_BATCH", 5)  # 16 images in batches of 5, 5, 5, 1
    model = helpers.with_dead_map(helpers.tiny_cnn(), "c2", 4)
    x = helpers.random_digits()[..., None].astype(np.float32) / 255
    x[7] = x[3]  # a tie: the lower index ranks first
    stats = exemplars.scan(model, ["c2"], datasets.Dataset("d", x=x), options=exemplars.ScanOptions(top_k=4))["c2"]
    values, fired, order = brute_force(model, "c2", x, 4)
    np.testing.assert_allclose(stats.best, values.max(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats.mean, values.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.fires, fired.mean(axis=0))
    np.testing.assert_array_equal(stats.top, order)
    assert stats.dead.tolist() == [m == 4 for m in range(6)]


def test_slices_merge_exactly_in_any_order():
    model = helpers.tiny_cnn()
    x = helpers.random_digits()[..., None].astype(np.float32) / 255
    whole = exemplars.scan(model, ["c2"], datasets.Dataset("d", x=x), options=exemplars.ScanOptions(top_k=5))["c2"]
    values = np.asarray(models.extractor(model, ["c2"])(x)).mean(axis=(1, 2))
    fired = np.zeros_like(values, bool)
    empty = exemplars.LayerStats.empty(6, 5)
    first = empty.add(0, values[:9], fired[:9], 5)
    second = empty.add(9, values[9:], fired[9:], 5)
    for merged in (first.merge(second, 5), second.merge(first, 5)):
        np.testing.assert_array_equal(merged.top, whole.top)
        np.testing.assert_allclose(merged.best, whole.best, rtol=1e-6)
        assert merged.count == 16
        np.testing.assert_allclose(merged.correlation, whole.correlation, atol=1e-6)


def test_the_correlation_of_every_two_maps_is_pearsons_r_over_the_images():
    values = np.array([[1, 2, 5, 0], [2, 4, 3, 0], [3, 6, 1, 0], [4, 8, 2, 0]], np.float32)  # map 3 is constant
    stats = exemplars.LayerStats.empty(4, 2).add(0, values[:3], values[:3] > 0, 2).add(3, values[3:], values[3:] > 0, 2)
    expected = np.corrcoef(values[:, :3].T)
    np.testing.assert_allclose(stats.correlation[:3, :3], expected, atol=1e-12)
    assert stats.correlation[0, 1] == pytest.approx(1.0) and stats.correlation[0, 2] == pytest.approx(-5.5 / 43.75**0.5)
    assert (stats.correlation[3] == 0).all()  # a constant map correlates with nothing
    assert exemplars.LayerStats.empty(exemplars.PAIRED_MAPS + 1, 1).correlation is None


def test_the_scan_holds_one_batch_of_images_at_a_time(tmp_path, monkeypatch):
    seen = []
    original = datasets.Dataset.take

    def counting(self, indices, shape):
        seen.append(len(list(indices)))
        return original(self, indices, shape)

    monkeypatch.setattr(datasets.Dataset, "take", counting)
    for i in range(70):
        Image.fromarray(np.full((12, 12), i, np.uint8)).save(tmp_path / f"{i:03d}.png")
    exemplars.scan(helpers.tiny_cnn(), ["c2"], datasets.load(tmp_path), options=exemplars.ScanOptions(top_k=2))
    assert seen == [exemplars.SCAN_BATCH, 70 - exemplars.SCAN_BATCH]


@pytest.mark.parametrize("size", [(30, 20), (20, 30)])
def test_patterns_of_a_colour_model_are_scored_against_a_folder_and_not_scored_without_one(cli, tmp_path, size):
    k = helpers.keras()
    model = k.Sequential(
        [k.Input((16, 16, 3)), k.layers.Conv2D(3, 3, activation="relu", name="c", bias_initializer="ones")]
    )
    model.save(tmp_path / "rgb.keras")
    (tmp_path / "images" / "a").mkdir(parents=True)
    for i in range(3):
        pixels = (np.random.default_rng(i).random((*size, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / "images" / "a" / f"{i}.jpg")
    bare = cli("patterns", tmp_path / "rgb.keras", "--steps", "4")
    assert bare.exit_code == 0 and "not scored" in bare.stderr and "not scored" in bare.stdout
    scored = cli("patterns", tmp_path / "rgb.keras", "--steps", "4", "--dataset", tmp_path / "images")
    assert scored.exit_code == 0 and "live maps at ratio >= 1" in scored.stdout


def wide_head(seed: int = 3):
    """conv (8 maps) -> flatten (1,568 values) -> dense logits: a matrix product whose rounding can depend on rows."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=seed)
    return k.Sequential(
        [k.Input((16, 16, 1)), k.layers.Conv2D(8, 3, activation="relu", name="c", kernel_initializer=init),
         k.layers.Flatten(), k.layers.Dense(10, name="logits", kernel_initializer=init)]
    )  # fmt: skip


def test_a_slice_scanned_apart_gives_the_very_bits_of_the_whole_scan():
    model = wide_head()
    x = np.random.default_rng(0).random((150, 16, 16, 1)).astype(np.float32)
    data = datasets.Dataset("d", x=x, labels=np.arange(150) % 10)
    options = exemplars.ScanOptions(top_k=150)  # every value, ranked
    whole = exemplars.scan(model, ["c", "logits"], data, options=options)
    block = exemplars.block_for(len(data))
    parts = [
        exemplars.scan(
            model, ["c", "logits"], data.slice(start, stop), options=replace(options, offset=start, block=block)
        )
        for start, stop in exemplars.slices(len(data), 2)
    ]
    assert len(parts) == 2
    for name in ("c", "logits"):
        merged = parts[1][name].merge(parts[0][name], 150)  # in either order
        assert merged.best.tobytes() == whole[name].best.tobytes()
        assert merged.top_values.tobytes() == whole[name].top_values.tobytes()
        np.testing.assert_array_equal(merged.top, whole[name].top)


def test_rank_keys_keep_five_digits_so_a_last_bit_never_reorders_near_ties():
    one = np.float32(1.0)
    assert stable.rank_key(np.float32([1 + 2**-20]))[0] == one  # below the step: a tie with 1
    assert stable.rank_key(np.float32([1 + 2**-16]))[0] == np.float32(1 + 2**-16)  # one step: kept
    assert stable.rank_key(np.float32([-1 - 2**-20, np.inf, -np.inf])).tolist() == [-1.0, np.inf, -np.inf]
    near = np.float32([0.5, 2.0000002, 2.0, 1.0])  # maps 1 and 2 differ in the last bit: a tie, lower index first
    assert stable.descending(near).tolist() == [1, 2, 3, 0]
    assert stable.descending(np.nextafter(near, np.float32(0))).tolist() == [1, 2, 3, 0]
