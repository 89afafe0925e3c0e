#!/usr/bin/env python3
"""One entry point for readers, authors and CI.  Needs only Python 3.10+.

    python3 dev.py lab       set up (first time) and open your copy of the book (my-book/) in JupyterLab
    python3 dev.py setup     only set up .venv (then `source .venv/bin/activate && pytest --nbval`)
    python3 dev.py test      set up (if needed) and run every test, notebooks included
    python3 dev.py slides    build each chapter as a self-contained reveal.js deck in build/slides/
    python3 dev.py slides-check    open the decks and the live slideshow in headless Chromium
    python3 dev.py execute   re-run the notebooks top to bottom and store their outputs
    python3 dev.py bench     time kbook against tf.keras (pass --json for JSON)
    python3 dev.py browser-bench   time each explorer in JupyterLab in headless Chromium

Set-up makes .venv/ beside this file and installs kbook with every dependency at
the versions pinned in constraints.txt, so stored notebook outputs reproduce.
It reinstalls only when pyproject.toml or constraints.txt change.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "kbook-install.sha256"
BOOK = ROOT / "book"
PREFACE = BOOK / "00_preface.ipynb"
# The reader's own copy of the book: exercises filled in there never touch book/ (which the tests
# run) and never conflict with a `git pull`.  Git-ignored.
WORKSPACE = ROOT / "my-book"
# The book's JupyterLab settings and page configuration (each file says why), installed into
# .venv's JupyterLab by setup().
LAB_SETTINGS = ROOT / "lab"


def venv_python():
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def install_fingerprint():
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def install_lab_settings(prefix=VENV):
    """Copy the files of ``LAB_SETTINGS`` (lab/) into the application settings folder of the
    JupyterLab installed under ``prefix``, keeping their paths: JupyterLab reads settings from its
    overrides.d/ and the page configuration from page_config.json5 there, ranked below the reader's
    own.  Returns the installed files."""
    folder = Path(prefix) / "share" / "jupyter" / "lab" / "settings"
    installed = []
    for source in sorted(p for p in LAB_SETTINGS.rglob("*") if p.is_file()):
        target = folder / source.relative_to(LAB_SETTINGS)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        installed.append(target)
    return installed


def setup():
    """Create .venv and install kbook[book,test] with the pinned versions, once; bring the book's
    JupyterLab settings up to date every time (copies of two small files)."""
    python = venv_python()
    if not python.exists():
        print("Creating .venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    install_lab_settings()
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return python
    print("Installing kbook and its dependencies (first time: a few minutes) ...", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[book,test]"],
        check=True,
    )
    STAMP.write_text(fingerprint)
    return python


def quiet_tf_env(benchmark=False):
    # TensorFlow reads these once at import; both are needed for a silent import.  A benchmark
    # compares against TensorFlow as users get it (oneDNN on), so it keeps oneDNN's default.
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not benchmark:
        env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sync_workspace(book=BOOK, workspace=WORKSPACE):
    """Bring the reader's copy of the book up to date without ever overwriting the reader's work.

    A chapter not in ``workspace`` yet is copied in.  A chapter the reader has not changed since it
    was copied follows book/ when book/ has a newer version; one the reader changed is kept, and
    reported under "kept" so the reader knows a newer version is in book/.  What each copy was
    when copied is recorded (a digest per chapter) in ``workspace/.kbook-copies.json``.
    Returns {"copied": [...], "updated": [...], "kept": [...]} (chapter file names).
    """
    workspace.mkdir(exist_ok=True)
    record_file = workspace / ".kbook-copies.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    report = {"copied": [], "updated": [], "kept": []}
    for source in sorted(book.glob("*.ipynb")):
        target, latest = workspace / source.name, _digest(source)
        if not target.exists():
            report["copied"].append(source.name)
        elif record.get(source.name) == latest or _digest(target) == latest:
            record[source.name] = latest  # already the latest version
            continue
        elif record.get(source.name) == _digest(target):
            report["updated"].append(source.name)  # untouched by the reader: safe to replace
        else:
            report["kept"].append(source.name)
            continue
        shutil.copyfile(source, target)
        record[source.name] = latest
    record_file.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return report


def print_workspace_report(report):
    rel = WORKSPACE.relative_to(ROOT)
    if report["copied"]:
        print(f"Copied {len(report['copied'])} chapters to {rel}/ (your copy: edit and run freely there).")
    for name in report["updated"]:
        print(f"Updated {rel}/{name} to the book's newer version (you had not changed it).")
    for name in report["kept"]:
        print(f"Kept your {rel}/{name}; the book has a newer version in book/{name}.")


def lab_command(python):
    """JupyterLab on localhost only, with its token auth left on (the default), at the reader's preface."""
    command = [str(python), "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers often run as root; Jupyter refuses that unless asked. Still localhost + token.
        command.append("--allow-root")
    return command + [str((WORKSPACE / PREFACE.name).relative_to(ROOT))]


def test_command(python, extra):
    # --dist loadfile keeps each notebook in one kernel (pyproject's addopts add
    # --nbval-current-env, so notebooks run with this venv's Python).
    workers = ["-n", "2", "--dist", "loadfile"] if "-n" not in extra else []
    return [str(python), "-m", "pytest", "--nbval", *workers, *extra]


def slides_command(python, notebooks):
    # slides/build.py inlines the vendored reveal.js: the decks open offline, from file://.
    return [str(python), str(ROOT / "slides" / "build.py"), *notebooks]


def execute_command(python, notebooks):
    notebooks = notebooks or sorted(str(p.relative_to(ROOT)) for p in BOOK.glob("*.ipynb"))
    return [str(python), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
            "--inplace", "--ExecutePreprocessor.timeout=600",
            "--ExecutePreprocessor.record_timing=False", *notebooks]


def main(argv):
    commands = {"lab", "setup", "test", "slides", "slides-check", "execute", "bench", "browser-bench"}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    python = setup()
    if command == "setup":
        return 0
    if command == "lab":
        print_workspace_report(sync_workspace())
        args = lab_command(python)
    elif command == "test":
        args = test_command(python, extra)
    elif command == "slides":
        args = slides_command(python, extra)
    elif command == "slides-check":
        args = [str(python), str(ROOT / "slides" / "check.py"), *extra]
    elif command == "execute":
        args = execute_command(python, extra)
    elif command == "browser-bench":
        args = [str(python), str(ROOT / "bench" / "browser.py"), *extra]
    else:
        args = [str(python), str(ROOT / "bench" / "bench.py"), *extra]
    benchmark = command in ("bench", "browser-bench")
    return subprocess.run(args, cwd=ROOT, env=quiet_tf_env(benchmark)).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
