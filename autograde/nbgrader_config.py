"""nbgrader configuration of the course (nbgrader 0.9).

The course directory (nbgrader's ``CourseDirectory.root``) is the repository: the folder
above this file. nbgrader reads its configuration from the folder it is started in, so the
repository root holds ``nbgrader_config.py``, which loads this file: run ``nbgrader`` there
(nbgrader 0.9 has no ``--config`` option). nbgrader lays an assignment out as
``<root>/<step>/<student>/<assignment>`` with no student folder for the source and release
steps, so with the names below

    solutions/<a>/<a>.ipynb                 instructor sources   (nbgrader's "source")
    exercises/<a>/<a>.ipynb                 student notebooks    (nbgrader's "release")
    autograde/submitted/<student>/<a>/      collected work       (nbgrader's "submitted")
    autograde/autograded/<student>/<a>/     graded copies
    autograde/feedback/<student>/<a>/       feedback pages
    autograde/gradebook.db                  nbgrader's gradebook
    autograde/nbgrader.log                  nbgrader's log

(all but the first two are git-ignored). The steps after "release" sit side by side in
``autograde/``, where ``cnncourse grade --gradebook`` also looks for them. Because the root
comes from this file's location, a copy of the course anywhere else is a course of its own:
the tests build one in a temporary folder. ``cnncourse release`` reads this file directly.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = os.path.dirname(HERE)
c.CourseDirectory.course_id = "cnncourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("autograde", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograde", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograde", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
# nbgrader's default log file is .nbgrader.log in the current folder
c.NbGrader.logfile = os.path.join(HERE, "nbgrader.log")
# solutions/<a>/<a>.py is the readable source of <a>.ipynb and holds the solutions: never
# copy it (or any other Python file) into the students' folder.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# The hidden tests stay in the gradebook; the students' copies only show the visible checks.
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# Every notebook runs in well under a minute; a submission that hangs is cut off.
c.Execute.timeout = 300
