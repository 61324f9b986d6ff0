"""The app's widgets, each with its own look in DEFAULT_CSS and no knowledge of screens."""
