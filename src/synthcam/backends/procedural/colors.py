"""Colour names from the manifest (free text like "dark navy" or "hi-vis yellow") to BGR.

OpenCV draws in BGR, so every colour in this package is a BGR tuple; `rgb()` keeps the
tables readable. Unknown names fall back to a seeded choice from everyday clothing colours.
"""

from __future__ import annotations

import re

import numpy as np

BGR = tuple[int, int, int]


def rgb(r: int, g: int, b: int) -> BGR:
    return (b, g, r)


NAMED: dict[str, BGR] = {
    "black": rgb(28, 28, 30), "white": rgb(225, 225, 220), "grey": rgb(120, 120, 122), "gray": rgb(120, 120, 122),
    "charcoal": rgb(60, 62, 66), "silver": rgb(170, 172, 176), "blue": rgb(40, 80, 170), "navy": rgb(28, 36, 80),
    "denim": rgb(60, 85, 125), "red": rgb(170, 35, 35), "maroon": rgb(100, 25, 35), "burgundy": rgb(100, 25, 40),
    "green": rgb(50, 110, 55), "olive": rgb(95, 100, 50), "khaki": rgb(170, 150, 105), "tan": rgb(180, 150, 110),
    "beige": rgb(200, 185, 155), "brown": rgb(100, 68, 40), "yellow": rgb(215, 190, 40), "orange": rgb(220, 110, 30),
    "purple": rgb(95, 50, 125), "pink": rgb(225, 140, 165), "teal": rgb(30, 120, 125), "cream": rgb(230, 220, 195),
    "hi-vis": rgb(205, 235, 40), "neon": rgb(205, 235, 40), "camo": rgb(85, 90, 60), "camouflage": rgb(85, 90, 60),
    "gold": rgb(200, 160, 60), "cardboard": rgb(160, 120, 80), "dark": rgb(45, 45, 50), "light": rgb(190, 190, 185),
    "golden": rgb(205, 160, 80), "tawny": rgb(170, 125, 70), "tabby": rgb(125, 112, 95), "chocolate": rgb(80, 52, 32),
    "ginger": rgb(200, 112, 50), "camel": rgb(190, 150, 100), "lavender": rgb(170, 150, 200), "mustard": rgb(200, 160, 40),
    "lime": rgb(150, 200, 50),
}
CLOTHING = ["black", "navy", "grey", "denim", "charcoal", "khaki", "white", "red", "green", "brown", "blue", "maroon", "olive"]
VEHICLE_PAINT = ["white", "silver", "black", "grey", "navy", "red", "blue", "charcoal", "beige", "maroon"]
SKIN = [rgb(240, 200, 170), rgb(220, 175, 140), rgb(190, 140, 105), rgb(150, 105, 75), rgb(110, 75, 55), rgb(85, 60, 45)]
HAIR = [rgb(30, 25, 20), rgb(60, 40, 25), rgb(110, 80, 45), rgb(170, 140, 90), rgb(140, 140, 135), rgb(20, 20, 20)]
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


def parse_colour(text: str | None, rng: np.random.Generator, fallback: list[str] = CLOTHING) -> BGR:
    """A BGR colour for a free-text colour phrase; modifiers dark/light/bright/faded shift it."""
    words = _WORD.findall((text or "").lower())
    base = next((NAMED[w] for w in reversed(words) if w in NAMED and w not in ("dark", "light")), None)
    if base is None:
        if "dark" in words or "light" in words:
            base = NAMED["dark"] if "dark" in words else NAMED["light"]
            words = [w for w in words if w not in ("dark", "light")]
        else:
            base = NAMED[fallback[int(rng.integers(len(fallback)))]]
    colour = np.array(base, dtype=np.float64)
    if "dark" in words:
        colour *= 0.55
    if "light" in words or "pale" in words:
        colour = colour + (255 - colour) * 0.4
    if "faded" in words:
        colour = colour * 0.7 + colour.mean() * 0.3
    if "bright" in words:
        colour = np.minimum(colour * 1.2, 255)
    return jitter(tuple(int(c) for c in colour), rng, 0.08)  # type: ignore[arg-type]


def jitter(colour: BGR, rng: np.random.Generator, amount: float = 0.1) -> BGR:
    """Vary brightness and tint a little so no two clips share exact colours."""
    c = np.array(colour, dtype=np.float64) * (1 + rng.uniform(-amount, amount)) + rng.uniform(-8, 8, 3) * amount * 10
    return tuple(int(v) for v in np.clip(c, 0, 255))  # type: ignore[return-value]


def shade(colour: BGR, factor: float) -> BGR:
    return tuple(int(min(255, max(0, c * factor))) for c in colour)  # type: ignore[return-value]


def mix(a: BGR, b: BGR, t: float) -> BGR:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]
