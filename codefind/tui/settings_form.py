"""What the settings dialog offers and what applying it changes, without any Textual.

The dialog is a thin view over these functions: the choices for a backend and model, the
``Settings`` a filled-in form stands for, and the config-file keys that differ from the
current settings (only those are written, so values that come from the environment are not
copied into the file by accident).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from codefind.embeddings import backend as backend_named
from codefind.embeddings import backends
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
        """``base`` changed to what the form says (the backend decides which fields count).

        Raises:
            ConfigError: The model, dimension, mode or endpoint is not valid.
        """
        chosen = backend_named(self.backend)
        if not self.model:
            raise ConfigError(f"Give the model's name for the {self.backend} backend.")
        new = base.with_backend(self.backend).with_model(self.model)
        if chosen.url_setting:
            if not self.endpoint.startswith(("http://", "https://")):
                raise ConfigError("The endpoint URL must start with http:// or https://.")
            new = new.with_section_value(self.backend, chosen.url_setting, self.endpoint)
        if chosen.instruction_setting:
            new = new.with_section_value(self.backend, chosen.instruction_setting, self.instruction)
        dims = chosen.dimensions(new, self.model)
        dim = None if self.dim in (NATIVE, dims.native if dims else NATIVE) else self.dim
        if dims is not None:
            dims.check(dim, self.model)
        elif dim is not None:
            raise ConfigError(
                f"The dimensions of {self.model} are learnt from the server on first use: "
                "choose native now, and another dimension once it is known."
            )
        mode = next((m for m in SEARCH_MODES if m == self.mode), None)
        if mode is None:
            raise ConfigError(f"Unknown mode {self.mode!r}.")
        return replace(new, dim=dim, mode=mode)


def backend_choices() -> list[tuple[str, str]]:
    """(label, name) of every backend, in the registry's order."""
    return [(b.label, b.name) for b in backends()]


def model_choices(settings: Settings, backend: str) -> list[tuple[str, str]]:
    """Models to offer for ``backend``: the known ones plus the configured one."""
    try:
        models = list(backend_named(backend).known_models)
    except CodefindError:
        models = []
    configured = settings.section_value(backend, "model")
    if configured and configured not in models:
        models.insert(0, configured)
    return [(m, m) for m in models]


def dimension_choices(
    backend: str, model: str, current: int | None, settings: Settings | None = None
) -> tuple[list[tuple[str, int]], int, str | None]:
    """Dimension choices for ``model`` (largest first), the one to select, and any error.

    Values are dimensions (the native one labelled so); ``current`` (the configured
    dimension) is selected when valid, and offered even if it is not one of the presets.
    When the model is unknown, or its dimensions are learnt from the server and not known
    yet, the only choice is ``NATIVE``.
    """
    from codefind.config import Settings

    try:
        dims = backend_named(backend).dimensions(settings or Settings(backend=backend), model)
    except CodefindError as exc:
        return [("native", NATIVE)], NATIVE, exc.message
    if dims is None:
        return [("native (learnt from the server)", NATIVE)], NATIVE, None
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
    for chosen in backends():
        for field in ("model", chosen.url_setting, chosen.instruction_setting):
            if field is None:
                continue
            value = new.section_value(chosen.name, field)
            if old.section_value(chosen.name, field) != value:
                keys[f"{chosen.name}.{field}"] = str(value)
    return keys
