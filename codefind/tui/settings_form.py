"""What the settings dialog offers and what applying it changes, without any Textual.

The dialog is a thin view over these functions: the choices for a backend and model, the
``Settings`` a filled-in form stands for, and the config-file keys that differ from the
current settings (only those are written, so values that come from the environment are not
copied into the file by accident).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from codefind.embeddings import known_models, model_dimensions
from codefind.errors import CodefindError, ConfigError
from codefind.models import SEARCH_MODES

if TYPE_CHECKING:
    from codefind.config import Settings

NATIVE = 0
"""The dimension choice that means "the model's native dimension" (``dim = 0`` in the file)."""


@dataclass(frozen=True)
class FormValues:
    """The settings form as the user left it."""

    backend: str
    model: str
    endpoint: str
    dim: int
    """A dimension; ``NATIVE`` (0) or the model's native one mean "native"."""
    mode: str
    instruction: str

    def settings(self, base: Settings) -> Settings:
        """``base`` changed to what the form says.

        Raises:
            ConfigError: The model, dimension, mode or endpoint is not valid.
        """
        dims = model_dimensions(self.backend, self.model)
        dim = None if self.dim in (NATIVE, dims.native) else self.dim
        dims.check(dim, self.model)
        new = base.with_backend(self.backend, dim=dim).with_model(self.model)
        mode = next((m for m in SEARCH_MODES if m == self.mode), None)
        if mode is None:
            raise ConfigError(f"Unknown mode {self.mode!r}.")
        new = replace(new, mode=mode)
        if self.backend in ("sglang", "voyage"):
            if not self.endpoint.startswith(("http://", "https://")):
                raise ConfigError("The endpoint URL must start with http:// or https://.")
            if self.backend == "sglang":
                section = replace(new.sglang, url=self.endpoint, instruction=self.instruction)
                new = replace(new, sglang=section)
            else:
                new = replace(new, voyage=replace(new.voyage, url=self.endpoint))
        return new


def model_choices(settings: Settings, backend: str) -> list[tuple[str, str]]:
    """Models to offer for ``backend``: the known ones plus the configured one."""
    try:
        models = list(known_models(backend))
    except CodefindError:
        models = []
    configured = getattr(settings, backend).model
    if configured not in models:
        models.insert(0, configured)
    return [(m, m) for m in models]


def dimension_choices(
    backend: str, model: str, current: int | None
) -> tuple[list[tuple[str, int]], int, str | None]:
    """Dimension choices for ``model`` (largest first), the one to select, and any error.

    Values are dimensions (the native one labelled so); ``current`` (the configured
    dimension) is selected when valid, and offered even if it is not one of the presets.
    When the model is unknown, the only choice is ``NATIVE``.
    """
    try:
        dims = model_dimensions(backend, model)
    except CodefindError as exc:
        return [("native", NATIVE)], NATIVE, exc.message
    values = set(dims.options())
    if current is not None and dims.is_valid(current):
        values.add(current)
    choices = [
        (f"{d} (native)" if d == dims.native else str(d), d) for d in sorted(values, reverse=True)
    ]
    selected = current if current is not None and current in values else dims.native
    return choices, selected, None


def changed_keys(old: Settings, new: Settings) -> dict[str, str]:
    """Config-file keys (for ``write_config_value``) whose value differs between the two."""
    keys: dict[str, str] = {}
    if old.backend != new.backend:
        keys["backend"] = new.backend
    if old.dim != new.dim:
        keys["dim"] = str(new.dim) if new.dim else "native"
    if old.mode != new.mode:
        keys["mode"] = new.mode
    for backend in ("local", "sglang", "voyage"):
        if getattr(old, backend).model != getattr(new, backend).model:
            keys[f"{backend}.model"] = getattr(new, backend).model
    if old.sglang.url != new.sglang.url:
        keys["sglang.url"] = new.sglang.url
    if old.sglang.instruction != new.sglang.instruction:
        keys["sglang.instruction"] = new.sglang.instruction
    if old.voyage.url != new.voyage.url:
        keys["voyage.url"] = new.voyage.url
    return keys
