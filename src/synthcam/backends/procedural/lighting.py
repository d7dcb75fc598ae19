"""How light and weather change colours: one grading used for the plate and for figures.

The static plate is graded once per clip, per pixel, by material and distance. Figures are
graded per frame, but only their few palette colours, with the same function, so a person
at 20 m in fog or in the infrared falloff looks like the ground they stand on, at almost no
per-frame cost. Night is an infrared monochrome look: brightness follows near-infrared
reflectance (foliage glows, glass and sky go black) and an illuminator falloff with distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colors import BGR, rgb

MATERIALS = ("none", "ground", "grass", "foliage", "wall", "glass", "wood", "metal", "light", "road", "concrete", "roof",
             "paint", "cloth", "gravel", "plastic", "sky", "skin", "hair")
MAT = {name: i for i, name in enumerate(MATERIALS)}


def _table(values: dict[str, float], default: float) -> np.ndarray:
    return np.array([values.get(m, default) for m in MATERIALS], dtype=np.float32)


IR_REFLECT = _table({"grass": 1.3, "foliage": 1.45, "glass": 0.3, "metal": 0.7, "light": 4.0, "road": 0.7, "roof": 0.75,
                     "sky": 0.0, "skin": 1.35, "hair": 0.6, "cloth": 1.05, "concrete": 1.05}, 1.0)
SNOW_COVER = _table({"grass": 0.92, "ground": 0.85, "road": 0.5, "concrete": 0.72, "roof": 0.95, "gravel": 0.85, "foliage": 0.35,
                     "paint": 0.5}, 0.0)
WET = _table({"road": 0.35, "concrete": 0.3, "ground": 0.25, "gravel": 0.3, "wood": 0.2, "grass": 0.15}, 0.0)


@dataclass(frozen=True)
class Look:
    """A clip's light: exposure, tint, saturation, contrast, fog, snow, wetness, infrared."""

    ir: bool
    gain: float
    tint: tuple[float, float, float]          # BGR multipliers
    saturation: float
    contrast: float
    fog: float                                # metres to 63 % fog; 0 = none
    fog_colour: BGR
    snow: float
    wet: float
    ir_range: float
    sky: tuple[BGR, BGR]                      # top, horizon
    lamps: float                              # glow of lamps and lit windows, 0..1
    noise: float                              # sensor grain sigma in luma levels

    @classmethod
    def for_plan(cls, time_of_day: str, weather: str, rng: np.random.Generator) -> Look:
        u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
        ir = time_of_day == "night"
        gain, tint, sat, con = 1.0, (1.0, 1.0, 1.02), 1.0, 1.0
        sky: tuple[BGR, BGR] = (rgb(105, 150, 205), rgb(190, 210, 230))
        lamps, noise = 0.0, u(1.3, 1.9)
        if time_of_day == "dawn":
            gain, tint, sat, con, lamps = u(0.74, 0.86), (0.92, 0.95, 1.12), 0.8, 0.9, 0.35
            sky = (rgb(120, 130, 170), rgb(235, 175, 140))
            noise = u(1.9, 2.5)
        elif time_of_day == "dusk":
            # a camera raises its gain as the light goes: dim and warm, not murky
            gain, tint, sat, con, lamps = u(0.66, 0.78), (1.12, 0.92, 0.9), 0.7, 0.9, 0.8
            sky = (rgb(40, 50, 95), rgb(215, 130, 85))
            noise = u(2.1, 2.7)
        elif ir:
            gain, tint, sat, con, lamps = u(0.9, 1.05), (1.0, 1.0, 1.0), 0.0, 1.0, 1.0
            sky = (rgb(12, 12, 12), rgb(22, 22, 22))
            noise = u(2.5, 3.2)
        fog = 0.0
        fog_colour = rgb(196, 198, 200)
        snow = wet = 0.0
        if weather == "overcast" or weather in ("rain", "snow", "fog"):
            gain *= 0.88
            sat *= 0.65
            con *= 0.82 if weather != "fog" else 1.0   # in fog the haze itself flattens the picture
            sky = (rgb(150, 155, 160), rgb(190, 192, 195)) if not ir else sky
        if weather == "rain":
            gain *= 0.85
            wet = u(0.7, 1.0)
        elif weather == "snow":
            snow = u(0.75, 0.95)
            gain *= 1.05
        elif weather == "fog":
            fog = u(55.0, 80.0)
        if time_of_day in ("dusk", "dawn"):
            fog_colour = tuple(int(c * gain) for c in fog_colour)  # type: ignore[assignment]
        if ir:
            fog_colour = (70, 70, 70)
            fog *= 2.2  # near infrared scatters less in haze than visible light: it sees farther through fog
        # an infrared illuminator's reach (half brightness): enough to make out someone on the street
        return cls(ir, gain, tint, sat, con, fog, fog_colour, snow, wet, u(20, 26), sky, lamps, noise)

    def grade(self, colour: np.ndarray, distance: np.ndarray, material: np.ndarray, scene: bool = True) -> np.ndarray:
        """Grade float BGR colours (..., 3) seen at `distance` metres with material ids (...)."""
        c = colour.astype(np.float32, copy=True)
        if scene and self.snow:
            cover = (SNOW_COVER[material] * self.snow)[..., None]
            c += (np.float32(232) - c) * cover
        if scene and self.wet:
            c *= (1 - WET[material] * self.wet)[..., None]
        lit = (material == MAT["light"])[..., None]
        if self.ir:
            luma = c @ np.array([0.114, 0.587, 0.299], dtype=np.float32)
            reflect = IR_REFLECT[material]
            falloff = 1.0 / (1 + (distance / self.ir_range) ** 1.6) + 0.04
            grey = luma * reflect * falloff * self.gain
            c = np.repeat(grey[..., None], 3, axis=-1)
        else:
            c *= np.array(self.tint, dtype=np.float32) * self.gain
            mean = c.mean(axis=-1, keepdims=True)
            c = mean + (c - mean) * self.saturation
            c = 118 + (c - 118) * self.contrast
            lamp = np.array(rgb(255, 214, 150), dtype=np.float32) * max(self.lamps, 0.25)
            c = np.where(lit, np.maximum(c, lamp) if self.lamps > 0.3 else c, c)
        if self.fog:
            f = (1 - np.exp(-distance / self.fog))[..., None]
            c = c * (1 - f) + np.array(self.fog_colour, dtype=np.float32) * f
        return c

    def palette(self, colours: np.ndarray, distance: float, materials: np.ndarray) -> np.ndarray:
        """Grade a figure's palette (K, 3) at one distance; uint8 out."""
        d = np.full(len(colours), distance, dtype=np.float32)
        return np.clip(self.grade(colours, d, materials, scene=False), 0, 255).astype(np.uint8)
