"""Weights lock files: pin each builder's entry, file digest, ``hf://`` commit and output fingerprint.

- :mod:`._format`: the file (TOML) and its :class:`Pin` records; no torch.
- :mod:`._active`: the lock in force (``use_lock``, ``MODELVER_LOCK``) and what the weights API asks it.
- :mod:`._pin`: making a pin (resolve the entry, fetch and hash the file, fingerprint it).
- :mod:`._commands`: ``write_lock``, ``upgrade_lock`` and ``check_lock``.

Importing this package imports only the first two (the weights API needs them).
"""
