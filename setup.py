from setuptools import find_packages, setup

# Metadata lives in setup.cfg.  The package list is here because it has one
# twist: the fd endpoint plugin, kept in the repository as
# daphne/twisted/plugins/fd_endpoint.py, installs as
# site-packages/twisted/plugins/fd_endpoint.py (no __init__.py of ours there,
# so Twisted's own plugin package is left alone).
setup(
    packages=[*find_packages(include=["daphne", "daphne.*"]), "twisted.plugins"],
    package_dir={"twisted.plugins": "daphne/twisted/plugins"},
)
