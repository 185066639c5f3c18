"""docs/instructors.md as an instructor follows it: every code block of the page, in order, in
one shell, on a copy of the course (a git repository of its own) and a small class; then
formgrader in a real browser on the gradebook that term made.

The class is made from the course's own notebooks: ``ada`` hands in the released notebook with
every answer of the solution, ``ben`` the released notebook untouched, ``cy`` the first half of
the answers only. The expected points come from the instructor notebook's nbgrader metadata.
"""

from __future__ import annotations

import csv
import getpass
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "instructors.md"
ASSIGNMENT = "conv"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASED = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
STUDENTS = ("ada", "ben", "cy")
BLOCK_MARK = "@@ docs block"


# -- reading the page ---------------------------------------------------------------------


def code_blocks(text: str) -> list[str]:
    """The page's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)


def ignored_paths(text: str) -> list[str]:
    """The paths of the "What lives where" table's rows that the page says are git-ignored,
    each cut at its first placeholder (``autograde/submitted/<student>/<a>/`` ->
    ``autograde/submitted/``): where a term may write."""
    section = text.split("## What lives where", 1)[1].split("\n## ", 1)[0]
    paths = []
    for row in section.splitlines():
        if row.startswith("| `") and "git-ignored" in row:
            first_column = row.split("|")[1]
            paths += [path.split("<", 1)[0] for path in re.findall(r"`([^`]+)`", first_column)]
    return paths


def suggested_outputs(text: str) -> list[str]:
    """Every path under autograde/ that a code block of the page names, and every path the
    table says is git-ignored."""
    found = set(ignored_paths(text))
    for block in code_blocks(text):
        found.update(re.findall(r"\b(autograde/[\w./-]*\w)", block))
    return sorted(found)


# -- the class ----------------------------------------------------------------------------


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _points(kind: str) -> float:
    """Points of the instructor notebook's autograded test cells, or of its written answers."""
    cells = json.loads(SOLUTION.read_text())["cells"]
    manual = kind == "manual"
    return sum(
        float(_nbgrader(c)["points"])
        for c in cells
        if _nbgrader(c).get("grade") and bool(_nbgrader(c).get("solution")) == manual
    )


def _without_markers(source: str) -> str:
    return "".join(
        line for line in source.splitlines(keepends=True) if "### BEGIN SOLUTION" not in line
        and "### END SOLUTION" not in line
    )  # fmt: skip


def _student_notebook(answered: float) -> dict:
    """The released notebook with the solution's answers in the first ``answered`` fraction of
    its answer cells and its written answers (a student types the answers into the stubs)."""
    solution = {
        _nbgrader(c)["grade_id"]: "".join(c["source"])
        for c in json.loads(SOLUTION.read_text())["cells"]
        if _nbgrader(c).get("solution")
    }
    notebook = json.loads(RELEASED.read_text())
    code = [c for c in notebook["cells"] if _nbgrader(c).get("solution")]
    answers = [c for c in code if c["cell_type"] == "code"]
    keep = {id(c) for c in answers[: round(len(answers) * answered)]}
    for cell in code:
        if id(cell) in keep or (cell["cell_type"] == "markdown" and answered > 0):
            cell["source"] = _without_markers(solution[_nbgrader(cell)["grade_id"]])
    return notebook


CLASS = {"ada": 1.0, "ben": 0.0, "cy": 0.5}


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _git(course: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=course, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, f"git {args}: {result.stderr}"
    return result.stdout


def _copy_course(course: Path) -> None:
    """The working tree as a git repository of its own, with this environment as .venv."""
    for name in _tracked_files():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, course / name)  # mtimes kept: make sees .venv up to date
    _git(course, "init", "-q")
    _git(course, "add", "-A")
    _git(course, "commit", "-q", "-m", "the course")
    (course / ".venv").symlink_to(Path(sys.prefix))


def _files(course: Path) -> set[str]:
    return {
        p.relative_to(course).as_posix()
        for p in course.rglob("*")
        if p.is_file() and p.relative_to(course).parts[0] not in (".git", ".venv")
    }


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """Run every code block of the page on a copy of the course with a class of three.

    Returns (course folder, files before, output, seconds per block).
    """
    if not (Path(sys.prefix) / "bin" / "activate").is_file():
        pytest.skip(f"needs the tests to run in a virtual environment (not {sys.prefix})")
    course = tmp_path_factory.mktemp("course")
    _copy_course(course)
    stale = subprocess.run(["make", "-q", "install"], cwd=course, capture_output=True)
    if stale.returncode != 0:  # `make install` would reinstall this very environment
        pytest.fail("the virtual environment is older than pyproject.toml: run make install")
    (course / "autograde" / "students.csv").write_text(
        "id,first_name,last_name,email\n"
        + "".join(f"{s},{s.title()},Tester,{s}@example.org\n" for s in STUDENTS)
    )
    for student, answered in CLASS.items():
        path = course / "autograde" / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_student_notebook(answered), indent=1))
    before = _files(course)
    blocks = code_blocks(DOC.read_text())
    script = "set -eo pipefail\n" + "".join(
        f'echo "{BLOCK_MARK} {i} $(date +%s.%N)"\n{block}\n' for i, block in enumerate(blocks)
    )
    script += f'echo "{BLOCK_MARK} {len(blocks)} $(date +%s.%N)"\n'
    empty_config = tmp_path_factory.mktemp("jupyter-config")  # not this machine's own
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(empty_config)}
    result = subprocess.run(
        ["bash", "-c", script], cwd=course, env=env, capture_output=True, text=True, timeout=1500
    )
    marks = re.findall(rf"^{BLOCK_MARK} (\d+) ([\d.]+)$", result.stdout, re.M)
    seconds = {int(a): float(t2) - float(t1) for (a, t1), (_b, t2) in itertools.pairwise(marks)}
    ran = len(marks) - 1
    assert result.returncode == 0, (
        f"block {ran} of {DOC.name} failed (exit {result.returncode}):\n{blocks[ran]}\n"
        f"--- output:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    print("seconds per block:", seconds)
    return course, before, result, seconds


def test_every_code_block_of_the_page_runs_in_order(term):
    _course, _before, result, seconds = term
    assert len(seconds) == len(code_blocks(DOC.read_text())), result.stdout[-2000:]


def test_no_committed_file_changes_and_every_new_file_is_ignored(term):
    course = term[0]
    status = _git(course, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"after the term, git status of the course says:\n{status}"


def test_every_new_file_lies_in_a_folder_the_page_names(term):
    course, before, _result, _seconds = term
    named = ignored_paths(DOC.read_text())
    assert "autograde/results/" in named and "autograde/gradebook.db" in named, named
    made = sorted(_files(course) - before)
    assert made, "the term made no file at all"
    stray = [name for name in made if not any(name.startswith(path) for path in named)]
    assert stray == [], f"files outside the folders the page names {named}: {stray}"


def test_the_repository_root_gets_no_gradebook_or_log(term):
    course = term[0]
    made_at_root = sorted(p.name for p in course.iterdir() if p.is_file())
    assert not [n for n in made_at_root if n.endswith((".db", ".log", ".csv"))], made_at_root


def _export(course: Path, name: str) -> dict[str, dict]:
    with open(course / "autograde" / "results" / name) as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_the_export_counts_the_written_answers_in_the_maximum(term):
    rows = _export(term[0], "grades.csv")
    full = _points("tests") + _points("manual")
    assert _points("manual") > 0
    assert {s: float(r["max_score"]) for s, r in rows.items()} == dict.fromkeys(STUDENTS, full)


def test_the_export_has_the_graders_scores_before_any_hand_grading(term):
    course = term[0]
    rows = _export(course, "grades.csv")
    ours = json.loads((course / "autograde" / "results" / "conv.json").read_text())
    scores = {record["student"]: record["score"] for record in ours["submissions"]}
    assert scores["ada"] == _points("tests") and scores["ben"] == 0 < scores["cy"] < scores["ada"]
    assert {s: float(r["raw_score"]) for s, r in rows.items()} == scores


def test_written_answers_wait_for_a_hand_grade_unless_left_as_released(term):
    from nbgrader.api import Gradebook

    course = term[0]
    with Gradebook(f"sqlite:///{course / 'autograde' / 'gradebook.db'}") as gradebook:
        manual = [
            cell.name
            for cell in gradebook.find_notebook(ASSIGNMENT, ASSIGNMENT).grade_cells
            if cell.cell_type == "markdown"
        ]
        assert manual, "the gradebook has no written-answer cell"
        for student, expected in (("ada", (None, True)), ("ben", (0.0, False))):
            for name in manual:
                grade = gradebook.find_grade(name, ASSIGNMENT, ASSIGNMENT, student)
                got = (grade.auto_score, grade.needs_manual_grade)
                assert got == expected, f"{student}/{name}: (auto, needs hand) {got}"


def test_nbgrader_feedback_page_for_every_student(term):
    course = term[0]
    for student in STUDENTS:
        page = course / "autograde" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        text = page.read_text()
        full = _points("tests") + _points("manual")
        assert f"/ {full:g}" in text or f"/ {full}" in text, f"{page}: no maximum of {full}"


def test_the_second_opinion_agrees_on_the_complete_and_the_empty_notebook(term):
    course = term[0]
    ours, theirs = _export(course, "grades.csv"), _export(course, "second-opinion.csv")
    for student in ("ada", "ben"):
        assert float(theirs[student]["raw_score"]) == float(ours[student]["raw_score"]), student


def test_every_output_path_the_page_suggests_is_git_ignored():
    paths = suggested_outputs(DOC.read_text())
    assert {"autograde/results/conv.json", "autograde/gradebook.db"} <= set(paths), paths
    # a folder is probed with a file inside it, a file as it is
    probes = [
        p if "." in p.rstrip("/").rsplit("/", 1)[-1] else p.rstrip("/") + "/a.ipynb" for p in paths
    ]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *probes], cwd=ROOT, capture_output=True, text=True
    )
    ignored = set(result.stdout.splitlines())
    assert [p for p in probes if p not in ignored] == [], f"git ignores only {sorted(ignored)}"


# -- formgrader in a real browser ---------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serving(url: str, token: str) -> bool:
    """Whether a Jupyter server answers at ``url`` with this token (not merely something
    listening on the port: another process may have taken it first)."""
    headers = {"Authorization": f"token {token}"}
    request = urllib.request.Request(f"{url}/api/status", headers=headers)
    try:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
        with direct.open(request, timeout=5) as response:
            return response.status == 200 and "started" in json.loads(response.read())
    except (OSError, ValueError):
        return False


def _start_jupyter(course: Path, env: dict, log: Path, token: str):
    """(server, url) once the server answers; None if it exited (its port was taken)."""
    port = _free_port()
    command = [
        str(Path(sys.prefix) / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=course, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        if _serving(url, token):
            return server, url
        time.sleep(0.5)
    _stop(server)
    return None


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def jupyter(term, tmp_path_factory):
    """``jupyter lab`` started in the course folder, as the page says; stopped afterwards."""
    course = term[0]
    token = "formgrader-test"
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter-config")),
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = runtime / "server.log"
    for _attempt in range(3):  # a free port can be taken before the server binds it
        started = _start_jupyter(course, env, log, token)
        if started is not None:
            break
    else:
        pytest.fail(f"jupyter lab did not start:\n{log.read_text()[-3000:]}")
    server, url = started
    try:
        yield url, token
    finally:
        _stop(server)
    assert server.returncode is not None


def in_fresh_thread(work):
    """``work()``'s result, run on a new thread: playwright's sync API refuses to start on a
    thread whose asyncio loop is running (the book tests' session browser keeps one running
    on the main thread), and a new thread has no loop at all."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="formgrader-browser")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def with_browser(work):
    """``work(chromium)`` with a fresh headless chromium, all on a thread of its own."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium")

    def session():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return work(chromium)
            finally:
                chromium.close()

    return in_fresh_thread(session)


def _manual_ids() -> list[str]:
    cells = json.loads(SOLUTION.read_text())["cells"]
    meta = [_nbgrader(cell) for cell in cells]
    return [m["grade_id"] for m in meta if m.get("grade") and m.get("solution")]


def test_formgrader_lists_the_class_and_takes_a_hand_grade(term, jupyter):
    url, token = jupyter
    (grade_id, *_) = _manual_ids()
    with_browser(lambda browser: _hand_grade_in_formgrader(browser, url, token, grade_id))
    course = term[0]
    saved = _wait_for_manual_score(course, grade_id, expected=2)
    assert saved == 2, f"formgrader's score for {grade_id} did not reach the gradebook: {saved}"


def _wait_for_manual_score(course: Path, grade_id: str, expected: float):
    from nbgrader.api import Gradebook

    deadline = time.monotonic() + 30
    while True:
        with Gradebook(f"sqlite:///{course / 'autograde' / 'gradebook.db'}") as gradebook:
            grade = gradebook.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "ada")
            saved = grade.manual_score
        if saved == expected or time.monotonic() > deadline:
            return saved
        time.sleep(0.5)


def _hand_grade_in_formgrader(browser, url: str, token: str, grade_id: str) -> None:
    """In formgrader: the class is listed, ada needs a hand grade, and a score of 2 for
    ``grade_id`` is saved."""
    context = browser.new_context(extra_http_headers={"Authorization": f"token {token}"})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")  # Manual Grading
    page.wait_for_selector("#main-table a.name-hidden")  # "Submission #1", ...
    page.click("#toggle_names")  # "Show All Names"
    page.wait_for_selector("#main-table a.name-shown")
    rows = page.locator("#main-table tr")
    names = {
        rows.nth(i).locator("a.name-shown").inner_text(): rows.nth(i) for i in range(rows.count())
    }
    assert sorted(names) == sorted(f"Tester, {s.title()}" for s in STUDENTS), names
    needs = names["Tester, Ada"].locator("td.needs-manual-grade")
    assert needs.get_attribute("data-search") == "needs manual grade", needs.inner_html()
    names["Tester, Ada"].locator("a.name-shown").click()  # ada's notebook, to grade by hand
    box = page.locator(f"input.score#{grade_id}")
    box.wait_for()
    page.wait_for_load_state("networkidle")  # the page has fetched its grades: boxes are live
    box.fill("2")
    with page.expect_response(
        lambda r: "/api/grade/" in r.url and r.request.method == "PUT"
    ) as saved:
        box.press("Tab")  # formgrader saves a score when the box loses focus
    assert saved.value.ok, f"formgrader could not save the score: HTTP {saved.value.status}"
    context.close()


def test_grading_again_keeps_the_hand_grade_of_an_unchanged_notebook(term):
    from nbgrader.api import Gradebook

    course = term[0]
    grade_block = next(
        block for block in code_blocks(DOC.read_text()) if "cnncourse grade" in block
    )
    env = {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", grade_block], cwd=course, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (grade_id, *_) = _manual_ids()
    with Gradebook(f"sqlite:///{course / 'autograde' / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "ada")
        kept = (grade.manual_score, grade.needs_manual_grade)
    assert kept == (2, False), f"ada's hand grade of {grade_id} after grading again: {kept}"


# -- nbgrader's exchange, as on a JupyterHub ------------------------------------------------


def exchange_commands(text: str) -> list[str]:
    """The page's inline nbgrader commands that go through the exchange, in order."""
    verbs = "generate_assignment|release_assignment|collect|release_feedback"
    return re.findall(rf"`(nbgrader (?:{verbs}) {ASSIGNMENT}[^`]*)`", text)


def test_the_exchange_commands_release_collect_and_return_feedback(tmp_path):
    """A term on nbgrader's exchange, on a course copy of its own: every student hands in
    through the exchange (nbgrader's release_feedback needs the timestamp the exchange's
    collect writes). The student is this machine's user, as the exchange knows students by
    their login."""
    text = DOC.read_text()
    commands = exchange_commands(text)
    verbs = [command.split()[1] for command in commands]
    assert verbs == ["generate_assignment", "release_assignment", "collect", "release_feedback"]
    generate, release, collect, give_back = commands
    course = tmp_path / "course"
    course.mkdir()
    _copy_course(course)
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o777)
    config = tmp_path / "config"  # what a hub's own configuration sets
    config.mkdir()
    (config / "nbgrader_config.py").write_text(f"c.Exchange.root = {str(exchange)!r}\n")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    student = tmp_path / "student"
    student.mkdir()

    def run(command: str, cwd: Path = course) -> None:
        result = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"

    run(generate)
    run(release)
    run(f"nbgrader fetch_assignment {ASSIGNMENT} --course cnncourse", cwd=student)
    notebook = student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.write_text(json.dumps(_student_notebook(1.0), indent=1))  # the student's work
    run(f"nbgrader submit {ASSIGNMENT} --course cnncourse", cwd=student)
    run(collect)
    user = getpass.getuser()
    collected = course / "autograde" / "submitted" / user / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert collected.is_file(), f"nbgrader collect did not write {collected}"
    run(next(block for block in code_blocks(text) if "cnncourse grade" in block))
    run(next(block for block in code_blocks(text) if "generate_feedback" in block))
    run(give_back)
    run(f"nbgrader fetch_feedback {ASSIGNMENT} --course cnncourse", cwd=student)
    pages = list((student / ASSIGNMENT / "feedback").rglob(f"{ASSIGNMENT}.html"))
    assert pages and f"Score: {_points('tests'):g}" in pages[0].read_text(), pages
    status = _git(course, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"after the term on the exchange, git status says:\n{status}"
