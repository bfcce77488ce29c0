"""Package discovery for the three top-level folders the design fixes.

The folders ``plugins/`` and ``specs/`` install as the import packages ``j9330_payers`` and
``j9330_specs``. pyproject's ``packages.find`` cannot rename a folder, so the packages are
discovered here: a subpackage added under any root ships without editing a list.
"""

from setuptools import find_packages, setup

ROOTS = {"j9330_rules": "j9330_rules", "j9330_payers": "plugins", "j9330_specs": "specs"}

setup(
    package_dir=ROOTS,
    packages=[
        f"{name}.{sub}" if sub else name for name, folder in ROOTS.items() for sub in ["", *find_packages(folder)]
    ],
)
