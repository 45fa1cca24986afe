"""Writes src/testdata/pil-golden.json: reference outputs of Pillow 9.4 (Debian 12's python3-pil) for the tests.

- resize: a seeded random 37x23 RGB image (and a hard-edged one, for the filters with negative lobes or the
  ones timm uses) through Image.resize with every filter to
  sizes that shrink, enlarge, keep one side (PIL skips that pass), and with a box;
- jpeg: a 96x64 crop of a photo (4:2:0) and a smooth 48x32 picture with strong chroma gradients saved by PIL as RGB (4:2:0, 4:4:4, progressive), grey and CMYK JPEGs, and PIL's
  convert('RGB') of each (libjpeg's decode);
- png: small PNGs of every colour type and bit depth (written here by hand, so that the decoder is not tested
  against its own encoder), with tRNS, short palettes and Adam7 interlacing, and PIL's convert('RGB') of each.

Run: /usr/bin/python3 packages/preprocess/scripts/make-pil-golden.py (from the repository root).
"""
import base64
import io
import json
import struct
import zlib

import numpy as np
import PIL
from PIL import Image

assert PIL.__version__ == "9.4.0", PIL.__version__
rng = np.random.default_rng(20261206)
b64 = lambda a: base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()

# ---- resize -------------------------------------------------------------------------------------------------
FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
noise = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
edges = np.zeros((23, 37, 3), dtype=np.uint8)
edges[:, 18:, 0] = 255
edges[11:, :, 1] = 255
edges[::2, ::3, 2] = 255
SIZES = [(13, 9), (3, 2), (41, 26), (50, 11), (37, 10), (10, 23), (1, 1)]
BOXES = [((13, 9), (2.5, 1.25, 30.0, 20.5)), ((20, 12), (4, 3, 24, 15))]
resize_cases = []
for src_name, src in (("noise", noise), ("edges", edges)):
    im = Image.fromarray(src, "RGB")
    for fname, f in FILTERS.items():
        if src_name == "edges" and fname not in ("bilinear", "bicubic", "lanczos"):
            continue
        for size in SIZES:
            out = np.asarray(im.resize(size, f))
            resize_cases.append({"src": src_name, "filter": fname, "size": list(size), "out": b64(out)})
        for size, box in BOXES:
            out = np.asarray(im.resize(size, f, box=box))
            resize_cases.append({"src": src_name, "filter": fname, "size": list(size), "box": list(box), "out": b64(out)})


# ---- png ----------------------------------------------------------------------------------------------------
def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def pack_rows(samples, depth):
    """samples: [H, W*C] ints -> raw scanlines (filter 0) of the given bit depth."""
    rows = []
    for row in samples:
        if depth == 16:
            b = b"".join(struct.pack(">H", int(v)) for v in row)
        elif depth == 8:
            b = bytes(int(v) for v in row)
        else:
            bits = "".join(format(int(v), "0%db" % depth) for v in row)
            bits += "0" * (-len(bits) % 8)
            b = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
        rows.append(b)
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(samples, width, height, channels, depth, color_type, extra=b"", interlace=False):
    s = np.asarray(samples).reshape(height, width, channels)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = s[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            raw += b"".join(b"\x00" + r for r in pack_rows(sub.reshape(sub.shape[0], -1), depth))
    else:
        raw = b"".join(b"\x00" + r for r in pack_rows(s.reshape(height, -1), depth))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


W, H = 7, 5
png_cases = []


def add(name, samples, channels, depth, ct, extra=b"", interlace=False):
    data = write_png(samples, W, H, channels, depth, ct, extra, interlace)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    png_cases.append({"name": name, "png": base64.b64encode(data).decode(), "rgb": b64(rgb)})


for depth in (1, 2, 4, 8, 16):
    add(f"grey{depth}", rng.integers(0, 2**depth, size=W * H), 1, depth, 0)
add("grey16_small", rng.integers(0, 300, size=W * H), 1, 16, 0)
add("grey8_trns", rng.integers(0, 256, size=W * H), 1, 8, 0, chunk(b"tRNS", struct.pack(">H", 7)))
add("rgb8", rng.integers(0, 256, size=W * H * 3), 3, 8, 2)
add("rgb16", rng.integers(0, 65536, size=W * H * 3), 3, 16, 2)
add("rgb8_trns", rng.integers(0, 256, size=W * H * 3), 3, 8, 2, chunk(b"tRNS", struct.pack(">HHH", 1, 2, 3)))
add("rgb8_adam7", rng.integers(0, 256, size=W * H * 3), 3, 8, 2, interlace=True)
add("ga8", rng.integers(0, 256, size=W * H * 2), 2, 8, 4)
add("ga16", rng.integers(0, 65536, size=W * H * 2), 2, 16, 4)
add("rgba8", rng.integers(0, 256, size=W * H * 4), 4, 8, 6)
add("rgba16", rng.integers(0, 65536, size=W * H * 4), 4, 16, 6)
for depth in (1, 2, 4, 8):
    n = 2**depth
    pal = rng.integers(0, 256, size=n * 3)
    add(f"palette{depth}", rng.integers(0, n, size=W * H), 1, depth, 3, chunk(b"PLTE", bytes(int(v) for v in pal)))
pal = rng.integers(0, 256, size=5 * 3)
plte = chunk(b"PLTE", bytes(int(v) for v in pal))
add("palette8_trns", rng.integers(0, 5, size=W * H), 1, 8, 3, plte + chunk(b"tRNS", bytes([0, 128, 255])))
add("palette8_short", rng.integers(0, 12, size=W * H), 1, 8, 3, plte)
add("grey4_adam7", rng.integers(0, 16, size=W * H), 1, 4, 0, interlace=True)
add("grey1_adam7", rng.integers(0, 2, size=W * H), 1, 1, 0, interlace=True)
add("grey2_adam7", rng.integers(0, 4, size=W * H), 1, 2, 0, interlace=True)
pal = rng.integers(0, 256, size=16 * 3)
add("palette4_adam7", rng.integers(0, 16, size=W * H), 1, 4, 3, chunk(b"PLTE", bytes(int(v) for v in pal)), interlace=True)
pal = rng.integers(0, 256, size=3 * 3)
add("palette2_adam7_short", rng.integers(0, 4, size=W * H), 1, 2, 3, chunk(b"PLTE", bytes(int(v) for v in pal)), interlace=True)
add("rgb16_adam7", rng.integers(0, 65536, size=W * H * 3), 3, 16, 2, interlace=True)
add("ga8_adam7", rng.integers(0, 256, size=W * H * 2), 2, 8, 4, interlace=True)
add("rgba16_adam7", rng.integers(0, 65536, size=W * H * 4), 4, 16, 6, interlace=True)
pal = rng.integers(0, 256, size=256 * 3)
add("palette8_adam7", rng.integers(0, 256, size=W * H), 1, 8, 3, chunk(b"PLTE", bytes(int(v) for v in pal)), interlace=True)

# ---- jpeg: PIL's encoder and PIL's (libjpeg's) decode, to bound jpeg-js's difference ---------------------------
yy, xx = np.mgrid[0:32, 0:48]
smooth = np.stack(
    [127.5 + 127.5 * np.sin(xx / 7), 255 * yy / 31, 127.5 + 127.5 * np.cos((xx + yy) / 9)], axis=-1
).round().astype(np.uint8)
jpeg_cases = []
base = Image.fromarray(smooth, "RGB")


def fixture_png(name):
    with open("../shared/fixtures/preprocess/" + name, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    start, end = json.loads(raw[8 : 8 + n])["file"]["data_offsets"]
    return Image.open(io.BytesIO(raw[8 + n + start : 8 + n + end])).convert("RGB")


# a 96x64 piece of a real photo (scikit-image's chelsea, public domain): how JPEGs usually look
photo = fixture_png("preprocess_chelsea_swin_t_224.safetensors").crop((180, 90, 276, 154))
for name, im, kw in (
    ("photo_420", photo, {"quality": 90}),
    ("rgb_420", base, {"quality": 90}),
    ("rgb_444", base, {"quality": 90, "subsampling": 0}),
    ("rgb_progressive", base, {"quality": 85, "progressive": True}),
    ("grey", base.convert("L"), {"quality": 90}),
    ("odd_420", base.crop((0, 0, 47, 31)), {"quality": 90}),
    ("odd_422", base.crop((0, 0, 45, 29)), {"quality": 90, "subsampling": 1}),
    ("cmyk", base.convert("CMYK"), {"quality": 90}),
):
    f = io.BytesIO()
    im.save(f, "JPEG", **kw)
    data = f.getvalue()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    jpeg_cases.append({"name": name, "jpeg": base64.b64encode(data).decode(), "rgb": b64(rgb)})

out = {
    "generator": "packages/preprocess/scripts/make-pil-golden.py, Pillow " + PIL.__version__,
    "resize_sources": {"noise": b64(noise), "edges": b64(edges), "width": 37, "height": 23},
    "resize": resize_cases,
    "png": png_cases,
    "jpeg": jpeg_cases,
}
with open("packages/preprocess/src/testdata/pil-golden.json", "w") as f:
    json.dump(out, f, indent=0)
print(len(resize_cases), "resize cases,", len(png_cases), "png cases")
