"""modelver's export subsystem: a model with its preprocessing and meta as one deployable bundle.

Formats and the runtime arrive with the export issue; this package is importable now so
that installs and imports are stable.
"""
