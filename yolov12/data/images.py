"""Why an image cannot be used, in words a user can act on.

Ultralytics patches ``PIL.Image.open`` so that a file PIL cannot identify triggers an attempt to load the optional
``pi_heif`` plugin; offline that attempt fails and the message becomes "No module named 'pi_heif'" for any random-byte
or empty file. ``image_problem`` looks at the file first (empty, unknown format) and only then decodes it, so the
reason it gives is the real one. Ultralytics also refuses images smaller than 10 pixels on a side; so do we.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

MIN_SIDE = 10  # ultralytics.data.utils.check_image: "image size ... <10 pixels"


def image_problem(path: str | Path) -> str | None:
    """None when the image decodes completely and is usable, else the reason in one line."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "file does not exist"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            im.load()  # verify() does not catch truncation; a full decode does
            w, h = im.size
    except (UnidentifiedImageError, ImportError):  # ImportError: Ultralytics' pi_heif fallback, see module doc
        head = path.read_bytes()[:8].hex(" ")
        return f"not an image in a known format ({size} bytes starting {head})"
    except Exception as e:  # noqa: BLE001  (PIL raises many types for damaged files; the message says which)
        text = " ".join(str(e).split()) or type(e).__name__
        return f"damaged image ({text})"
    if w < MIN_SIDE or h < MIN_SIDE:
        return f"image is {w}x{h} pixels; Ultralytics needs at least {MIN_SIDE} on each side"
    return None
