"""codefind: find code by meaning in any git repository.

This module only carries the version: ``import codefind`` must stay cheap, because every
``codefind`` invocation pays for it before doing anything useful.
"""

__version__ = "0.1.0"
