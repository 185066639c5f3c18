"""The repository foundation: package metadata, CLI, light import, strict offline book."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import yaml

import cnncourse


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_version_flag_prints_the_package_version():
    proc = run_python("-m", "cnncourse", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cnncourse {cnncourse.__version__}", proc.stdout


def test_help_describes_the_command():
    proc = run_python("-m", "cnncourse", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: cnncourse" in proc.stdout, proc.stdout


def test_console_script_is_declared(repo_root):
    meta = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["cnncourse"] == "cnncourse.cli:main"
    assert meta["project"]["requires-python"] == ">=3.11"


def test_extras_name_the_book_grading_and_dev_tools(repo_root):
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = {
        "book": ["jupyter-book", "jupytext"],
        "grading": ["nbgrader", "pytest"],
        "dev": ["pytest", "hypothesis", "ruff", "playwright"],
    }
    for extra, names in wanted.items():
        declared = " ".join(extras[extra])
        for name in names:
            assert name in declared, f"extra {extra!r} lacks {name}: {extras[extra]}"


def test_constraints_pin_torch_2_13_0(repo_root):
    pins = (repo_root / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins, [p for p in pins if p.startswith("torch")]


def test_import_stays_light():
    code = (
        "import sys, time; t = time.perf_counter(); import cnncourse; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'numpy', 'matplotlib', 'nbgrader') if m in sys.modules]; "
        "print(f'{dt:.4f}', ','.join(heavy))"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    seconds, heavy = [*proc.stdout.split(), ""][:2]
    assert heavy == "", f"import cnncourse loaded {heavy}"
    assert float(seconds) < 0.2, f"import cnncourse took {seconds} s"


def test_submodules_load_lazily_on_first_use():
    code = (
        "import sys, cnncourse; before = 'cnncourse.cli' in sys.modules; "
        "cnncourse.cli; print(before, 'cnncourse.cli' in sys.modules)"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"], proc.stdout


def test_ci_runs_make_test_and_installs_the_debian_packages(repo_root):
    script = (repo_root / ".ci" / "run").read_text()
    assert "make test" in script
    assert "scripts/system-packages.sh test" in script, script


def test_make_test_and_make_book_install_the_debian_packages_first(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    for target in ("test", "book"):
        line = next(line for line in makefile.splitlines() if line.startswith(f"{target}:"))
        prerequisites = line.split(":", 1)[1].split()
        assert prerequisites[0] == f"system-packages-{target}", line
    script = (repo_root / "scripts" / "system-packages.sh").read_text()
    checks = (
        ("chromium", "chromium"),
        ("bubblewrap", "bwrap"),
        # Debian keeps the server's programs off PATH; tests/grading/postgres_server.py globs
        ("postgresql", "/usr/lib/postgresql/*/bin/initdb"),
    )
    for package, command in checks:
        assert f"{package}:{command}" in script, f"system-packages.sh does not check {package}"


def test_system_packages_stops_a_user_who_is_not_root_with_the_command_to_run(repo_root, tmp_path):
    bin_dir = tmp_path / "bin"  # bash, cat and an id that says 1000; no chromium, no bwrap
    bin_dir.mkdir()
    for tool in ("bash", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    fake_id = tmp_path / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    (bin_dir / "id").symlink_to(fake_id)
    script = repo_root / "scripts" / "system-packages.sh"
    proc = subprocess.run(
        [str(bin_dir / "bash"), str(script), "test"],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "sudo apt-get install -y chromium bubblewrap" in proc.stderr, proc.stderr


def test_readme_gives_the_two_commands_first(repo_root):
    readme = (repo_root / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make book" in first_block and "make test" in first_block, first_block


def test_every_repository_path_the_readme_names_exists(repo_root):
    readme = (repo_root / "README.md").read_text()
    paths = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:md|toml|yml|txt|py))`", readme))
    outputs = ("_build/",)  # what the commands produce
    missing = sorted(p for p in paths if not p.startswith(outputs) and not (repo_root / p).exists())
    assert not missing, f"README names paths that do not exist: {missing}"


def test_book_config_points_at_vendored_assets(repo_root):
    config = yaml.safe_load((repo_root / "_config.yml").read_text())["sphinx"]["config"]
    static = repo_root / config["html_static_path"][0]
    assert (static / config["mathjax_path"]).is_file()
    for script in config["nb_ipywidgets_js"]:
        assert (static / script).is_file(), script
    assert "sphinx_thebe" not in config["extensions"]


def test_toc_lists_only_existing_chapters(repo_root):
    toc = (repo_root / "_toc.yml").read_text()
    files = re.findall(r"file:\s*(\S+)", toc) + re.findall(r"root:\s*(\S+)", toc)
    missing = [f for f in files if not (repo_root / f"{f}.md").is_file()]
    assert not missing, f"_toc.yml lists missing chapters: {missing}"


def test_book_builds_strictly_and_has_every_chapter(built_book, repo_root):
    toc = (repo_root / "_toc.yml").read_text()
    files = re.findall(r"(?:file|root):\s*(\S+)", toc)
    missing = [f for f in files if not (built_book / f"{f}.html").is_file()]
    assert not missing, f"chapters without a page: {missing}"


def test_built_book_loads_no_script_from_a_cdn(built_book):
    offsite = []
    for page in built_book.rglob("*.html"):
        for src in re.findall(r'<script[^>]+src="([^"]+)"', page.read_text(errors="replace")):
            if src.startswith(("http://", "https://", "//")):
                offsite.append((page.name, src))
    assert not offsite, offsite[:10]
