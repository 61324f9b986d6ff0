"""The resident search service: one warm process per repository and settings.

``codefind serve`` keeps the model, the vectors and the lexical index loaded, watches the
work tree (``codefind.live``) and answers searches on a Unix-domain socket that only its
owner can open. ``codefind search`` asks it first (``client``) and searches in-process, as
before, when none answers. ``protocol`` is what both sides share; it and ``client`` import
nothing heavy, so a search answered by the service never loads numpy or the model.
"""
