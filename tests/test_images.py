"""Every common image mode becomes a model input the way a person would expect."""

import numpy as np
import pytest
from PIL import Image

from featviz.errors import FeatvizError
from featviz.pixels import images, preprocess


def save(tmp_path, img, name="img.png", **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def load(path, channels=1, size=None, input_range=(0.0, 1.0)):
    return images.load_image(path, channels=channels, size=size, input_range=input_range)


def test_grey_8bit_is_value_over_255(tmp_path):
    arr = np.array([[0, 51], [255, 102]], np.uint8)
    out = load(save(tmp_path, Image.fromarray(arr, "L")))
    assert out.shape == (2, 2, 1)
    np.testing.assert_allclose(out[..., 0], arr / 255.0, atol=1e-7)


def test_input_range_0_255_keeps_raw_pixel_values(tmp_path):
    arr = np.array([[0, 51], [255, 102]], np.uint8)
    out = load(save(tmp_path, Image.fromarray(arr, "L")), input_range=(0, 255))
    np.testing.assert_allclose(out[..., 0], arr, atol=1e-4)


def test_16bit_grey_is_scaled_by_65535_not_clipped(tmp_path):
    arr = np.array([[0, 32768], [65535, 1000]], np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I")
    out = load(save(tmp_path, img))
    np.testing.assert_allclose(out[..., 0], arr / 65535.0, atol=1e-6)
    assert 0.49 < out[0, 1, 0] < 0.51  # convert("L") would have clipped it to 1.0


def test_rgb_to_one_channel_is_luminance(tmp_path):
    arr = np.zeros((1, 3, 3), np.uint8)
    arr[0, 0] = (255, 0, 0)
    arr[0, 1] = (0, 255, 0)
    arr[0, 2] = (0, 0, 255)
    out = load(save(tmp_path, Image.fromarray(arr, "RGB")))
    np.testing.assert_allclose(out[0, :, 0], [0.299, 0.587, 0.114], atol=1e-6)


def test_grey_to_three_channels_is_replicated(tmp_path):
    arr = np.array([[10, 200]], np.uint8)
    out = load(save(tmp_path, Image.fromarray(arr, "L")), channels=3)
    assert out.shape == (1, 2, 3)
    np.testing.assert_allclose(out[0, 1], [200 / 255.0] * 3, atol=1e-7)


def test_rgba_composites_onto_black(tmp_path):
    arr = np.zeros((1, 3, 4), np.uint8)
    arr[0, 0] = (255, 255, 255, 255)  # opaque white
    arr[0, 1] = (255, 255, 255, 0)  # transparent white: background
    arr[0, 2] = (255, 255, 255, 128)  # half
    out = load(save(tmp_path, Image.fromarray(arr, "RGBA")))
    np.testing.assert_allclose(out[0, :, 0], [1.0, 0.0, 128 / 255.0], atol=1e-6)


def test_la_composites_onto_black(tmp_path):
    arr = np.array([[[200, 255], [200, 0]]], np.uint8)
    out = load(save(tmp_path, Image.fromarray(arr, "LA")))
    np.testing.assert_allclose(out[0, :, 0], [200 / 255.0, 0.0], atol=1e-6)


def test_palette_transparency_composites_onto_black(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    img.putdata([0, 0])
    img.info["transparency"] = 0
    path = save(tmp_path, img, transparency=0)
    img2 = Image.new("P", (2, 1))
    img2.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    img2.putdata([0, 1])
    path2 = save(tmp_path, img2, name="opaque.png")
    assert load(path).max() == 0.0  # every pixel transparent -> black
    np.testing.assert_allclose(load(path2)[0, :, 0], [1.0, 0.0])


def test_cmyk_jpeg_is_read_as_rgb(tmp_path):
    img = Image.new("CMYK", (4, 4), (0, 0, 0, 0))  # no ink: white
    out = load(save(tmp_path, img, name="cmyk.jpg"))
    assert out.shape == (4, 4, 1)
    assert out.min() > 0.95


def test_one_pixel_image_is_resized_to_the_model_input(tmp_path):
    out = load(save(tmp_path, Image.new("L", (1, 1), 128)), size=(28, 28))
    assert out.shape == (28, 28, 1)
    np.testing.assert_allclose(out, 128 / 255.0, atol=1e-6)


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((40, 80), np.uint8)
    arr[:, :40] = 255  # left half white, landscape
    img = Image.fromarray(arr, "L")
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = save(tmp_path, img, name="rotated.jpg", exif=exif, quality=95)
    out = load(path)
    assert out.shape == (80, 40, 1)  # portrait once rotated
    assert out[:30].mean() > 0.9 and out[50:].mean() < 0.1  # the white half is now on top


def test_shrinking_is_anti_aliased(tmp_path):
    arr = np.zeros((56, 56), np.uint8)
    arr[:, ::2] = 255  # one-pixel stripes alias badly without a low-pass filter
    out = load(save(tmp_path, Image.fromarray(arr, "L")), size=(28, 28))
    assert 0.35 < out.mean() < 0.65 and out.std() < 0.2


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_unreadable_images_raise_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(FeatvizError, match="bad.png"):
        load(path)


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    path = save(tmp_path, Image.new("L", (64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(FeatvizError, match="too large"):
        load(path)


def test_uint8_round_trip_is_exact():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    for rng in [(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)]:
        assert (images.to_uint8(images.from_uint8(levels, rng), rng) == levels).all()


@pytest.mark.parametrize("text,expected", [("0,1", (0.0, 1.0)), ("0,255", (0.0, 255.0)), ("-1,1", (-1.0, 1.0))])
def test_parse_range(text, expected):
    assert preprocess.parse_range(text) == expected


@pytest.mark.parametrize("text", ["1", "a,b", "1,0", "0,nan"])
def test_parse_range_rejects(text):
    with pytest.raises(FeatvizError):
        preprocess.parse_range(text)
