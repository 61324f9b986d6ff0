"""The app's screens: the finder itself and its dialogs (settings, help, consent)."""
