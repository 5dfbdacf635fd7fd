# SPDX-License-Identifier: BSD-3-Clause
"""Checkpoint metadata: the preprocessing and energy calibration a checkpoint was trained with.

Stored as safetensors header metadata (every value a JSON string) or in a sidecar ``<stem>_meta.json``.
Each key has a documented default; the loader reports which defaults it had to use, because a silently
defaulted ``energy_scale`` or I/Q scale changes every energy the hardware produces.

Every field is checked by its entry in ``FIELDS`` (JSON type, finiteness, integer-ness, range) whenever a
``Metadata`` is made, from a file or in code, so a new field is validated by construction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from venom_fpga.errors import VenomError, check_int, check_number, check_numbers, check_object


class MetadataError(VenomError):
    """A metadata field of the wrong type or out of range; ``key`` names the field."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, where: None if value is None else check(value, where)


# field -> check(value, where) returning the normalised value (ints for integral floats, floats, lists of floats).
FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "raw_sample_rate_hz": _optional(lambda v, w: check_number(v, w, positive=True, error=MetadataError)),
    "decimation": lambda v, w: check_int(v, w, low=1, error=MetadataError),
    "fir_taps": lambda v, w: check_numbers(v, w, error=MetadataError),
    "window_length": _optional(lambda v, w: check_int(v, w, low=1, error=MetadataError)),
    "pre_trigger": lambda v, w: check_int(v, w, low=0, error=MetadataError),
    "iq_offset": lambda v, w: check_numbers(v, w, length=2, error=MetadataError),
    "iq_scale": lambda v, w: check_numbers(v, w, length=2, nonzero=True, error=MetadataError),
    "energy_scale": lambda v, w: check_number(v, w, nonzero=True, error=MetadataError),
    "energy_offset": lambda v, w: check_number(v, w, error=MetadataError),
    "provenance": lambda v, w: check_object(v, w, error=MetadataError),
}
def decode_header_value(value: Any) -> Any:
    """A safetensors header value (always a string) as the JSON value it encodes; a plain string stays one (and is
    refused by its field's check if the field is not a string)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            pass
    return value


# What a checkpoint without these keys predicts in: the model's raw output, not eV (the tool says so).
CALIBRATION_KEYS = ("energy_scale", "energy_offset")


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

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, raw: dict[str, Any], json_strings: bool = True) -> tuple[Metadata, list[str]]:
        """Build from a dict of JSON values; with ``json_strings`` (safetensors header form, str -> str) each string
        value is first decoded as JSON where it is JSON (a plain string such as ``"format": "pt"`` stays one).

        Returns the metadata and the keys for which the default was used. Unknown keys are kept in
        ``provenance['extra']`` rather than dropped, so nothing a user stored is lost. A bad value raises
        ``MetadataError`` naming the key.
        """
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if json_strings:
                value = decode_header_value(value)
            if key in cls.keys():
                values[key] = value
            elif key != "format":
                extra[key] = value
        defaults_used = [k for k in cls.keys() if k not in values and k != "provenance"]
        meta = cls(**values)
        if extra:
            meta.provenance = {**meta.provenance, "extra": extra}
        return meta, defaults_used

    def validate(self) -> None:
        """Check and normalise every field (FIELDS), then the fields against each other."""
        for key, check in FIELDS.items():
            try:
                setattr(self, key, check(getattr(self, key), f"metadata {key}"))
            except MetadataError as exc:
                raise MetadataError(str(exc), key) from None
        if self.window_length is not None and self.pre_trigger >= self.window_length:
            raise MetadataError(f"metadata pre_trigger {self.pre_trigger} must be < window_length "
                                f"{self.window_length}", "pre_trigger")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_safetensors_header(self) -> dict[str, str]:
        """safetensors metadata must be str -> str: every value is JSON-encoded."""
        return {k: json.dumps(v) for k, v in self.to_dict().items()}
