"""The package list, which pyproject.toml cannot express: the ``export/`` folder installs as
``modelver_export``, so nothing named ``export`` lands in site-packages and no ``export.py``
in a user's working directory can stand in for modelver's exporter."""

from setuptools import find_packages, setup

EXPORT_PACKAGES = ["modelver_export"] + [f"modelver_export.{name}" for name in find_packages("export")]

setup(
    packages=find_packages(include=["modelver", "modelver.*"]) + EXPORT_PACKAGES,
    package_dir={"modelver_export": "export"},
)
