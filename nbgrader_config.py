"""nbgrader reads ``nbgrader_config.py`` from the folder it is started in: the repository root
is the course directory, so run every ``nbgrader`` command (and ``jupyter lab`` for
formgrader) here. The settings live in ``autograde/nbgrader_config.py``, which ``cnncourse
release`` and the tests read too."""

c = get_config()  # noqa: F821 (traitlets provides get_config and load_subconfig)
load_subconfig("autograde/nbgrader_config.py")  # noqa: F821 (relative to this file)
