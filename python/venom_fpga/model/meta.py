"""Checkpoint metadata: the preprocessing and energy calibration a checkpoint was trained with.

Stored as safetensors header metadata (every value a JSON string) or in a sidecar ``<stem>_meta.json``.
Each key has a documented default; the loader reports which defaults it had to use, because a silently
defaulted ``energy_scale`` or I/Q scale changes every energy the hardware produces.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Metadata:
    """Everything outside the tensors that is needed to turn raw MKID I/Q into an energy in eV."""

    # Raw I/Q sample rate before decimation (Hz). None: unknown (the model then only sees windows).
    raw_sample_rate_hz: float | None = None
    # Decimation factor from the raw rate to the model rate.
    decimation: int = 1
    # Anti-aliasing FIR taps applied before decimation (empty: no filter).
    fir_taps: list[float] = field(default_factory=list)
    # Window length in model-rate samples. None: any length is accepted.
    window_length: int | None = None
    # Model-rate samples before the trigger inside each window.
    pre_trigger: int = 0
    # Normalisation x_norm = (x_raw - iq_offset) / iq_scale, per quadrature (I, Q).
    iq_offset: list[float] = field(default_factory=lambda: [0.0, 0.0])
    iq_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    # E = mu * energy_scale + energy_offset (eV); sigma_E = exp(log_var / 2) * energy_scale.
    energy_scale: float = 1.0
    energy_offset: float = 0.0
    # Free-form provenance (training command, data set, seed, achieved R, ...).
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> tuple[Metadata, list[str]]:
        """Build from a dict whose values are JSON values or JSON-encoded strings.

        Returns the metadata and the keys for which the default was used. Unknown keys are kept in
        ``provenance['extra']`` rather than dropped, so nothing a user stored is lost.
        """
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    pass  # a plain string (e.g. safetensors' "format": "pt")
            if key in cls.keys():
                values[key] = value
            elif key != "format":
                extra[key] = value
        defaults_used = [k for k in cls.keys() if k not in values and k != "provenance"]
        meta = cls(**values)
        if extra:
            meta.provenance = {**meta.provenance, "extra": extra}
        meta.validate()
        return meta, defaults_used

    def validate(self) -> None:
        if int(self.decimation) < 1:
            raise ValueError(f"metadata decimation must be >= 1, found {self.decimation}")
        for name in ("iq_offset", "iq_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (list, tuple)) and len(value) == 2):
                raise ValueError(f"metadata {name} must be a list [I, Q], found {value!r}")
        if any(float(s) == 0.0 for s in self.iq_scale):
            raise ValueError(f"metadata iq_scale must be non-zero, found {self.iq_scale}")
        if float(self.energy_scale) == 0.0:
            raise ValueError("metadata energy_scale must be non-zero")
        if self.window_length is not None and int(self.window_length) < 1:
            raise ValueError(f"metadata window_length must be >= 1, found {self.window_length}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_safetensors_header(self) -> dict[str, str]:
        """safetensors metadata must be str -> str: every value is JSON-encoded."""
        return {k: json.dumps(v) for k, v in self.to_dict().items()}
