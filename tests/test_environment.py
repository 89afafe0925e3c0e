"""The set-up promises: dependencies in sync, safe JupyterLab defaults, a silent TensorFlow import."""
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

import dev

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def name_of(requirement):
    return re.split(r"[ ;<>=!~\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_exactly_the_package_dependencies():
    project = pyproject()
    wanted = set(project["dependencies"])
    for extra in ("book", "test"):
        wanted |= set(project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip_section) - {"-e ."} == wanted
    assert "-e ." in pip_section
    assert any(str(d).startswith("python") for d in env["dependencies"] if isinstance(d, str))


def test_constraints_pin_every_direct_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pins[name_of(line)] = line
    project = pyproject()
    direct = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    for requirement in direct:
        assert name_of(requirement) in pins, requirement
        assert "==" in pins[name_of(requirement)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python3 dev.py lab" in readme and "python3 dev.py test" in readme
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1].strip() == "python3 dev.py test"


def test_lab_listens_on_localhost_and_keeps_token_auth():
    command = " ".join(dev.lab_command(Path("python")))
    assert "--ServerApp.ip=127.0.0.1" in command
    assert not re.search(r"token|password|allow_remote|0\.0\.0\.0|disable_check_xsrf", command, re.I)
    assert command.endswith("00_preface.ipynb")  # the reader's copy of the preface


def test_test_command_is_strict_nbval():
    command = dev.test_command(Path("python"), [])
    assert "--nbval" in command and "--nbval-lax" not in command
    assert command[command.index("--dist") + 1] == "loadfile"


def quiet_free_env():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    return env


def test_import_kbook_does_not_import_tensorflow():
    code = "import sys, kbook, kbook.layers, kbook.activations, kbook.widgets.dense; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=quiet_free_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_tensorflow_import_after_kbook_prints_nothing():
    code = "import kbook; import tensorflow as tf; tf.constant(1.0) + 1; import keras; keras.layers.Dense(2)(tf.ones((1, 3)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=quiet_free_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""


def collected(command):
    out = subprocess.run(command + ["--nbval", "--collect-only", "-q"], cwd=ROOT, capture_output=True,
                         text=True, env=quiet_free_env())
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return sorted(line for line in out.stdout.splitlines() if "::" in line)


def test_plain_pytest_entry_point_collects_what_python_m_pytest_collects():
    # `pytest` (the script) does not put the project folder on sys.path; `python -m pytest` does.
    script = Path(sys.executable).parent / ("pytest.exe" if os.name == "nt" else "pytest")
    plain = collected([str(script)])
    assert plain == collected([sys.executable, "-m", "pytest"])
    assert any("book/03_conv2d.ipynb::Cell" in item for item in plain)
    assert any("tests/test_environment.py::" in item for item in plain)


def _chapter(folder, name, text):
    (folder / name).write_text(text)
    return folder / name


def test_lab_opens_the_readers_copy_which_git_ignores():
    assert dev.lab_command(Path("python"))[-1] == str(Path("my-book") / "00_preface.ipynb")
    assert "my-book/" in (ROOT / ".gitignore").read_text().splitlines()
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "my-book" not in testpaths          # the reader's answers are never tested


def test_workspace_copies_once_and_never_overwrites_the_readers_work(tmp_path):
    book, mine = tmp_path / "book", tmp_path / "my-book"
    book.mkdir()
    _chapter(book, "01_dense.ipynb", "v1")
    _chapter(book, "02_activation.ipynb", "v1")
    assert dev.sync_workspace(book, mine) == {"copied": ["01_dense.ipynb", "02_activation.ipynb"],
                                              "updated": [], "kept": []}
    (mine / "01_dense.ipynb").write_text("the reader's answers")
    assert dev.sync_workspace(book, mine) == {"copied": [], "updated": [], "kept": []}
    # The book changes both chapters and gains one: the untouched copy follows, the reader's is kept.
    _chapter(book, "01_dense.ipynb", "v2")
    _chapter(book, "02_activation.ipynb", "v2")
    _chapter(book, "03_conv2d.ipynb", "v1")
    assert dev.sync_workspace(book, mine) == {"copied": ["03_conv2d.ipynb"], "updated": ["02_activation.ipynb"],
                                              "kept": ["01_dense.ipynb"]}
    assert (mine / "01_dense.ipynb").read_text() == "the reader's answers"
    assert (mine / "02_activation.ipynb").read_text() == "v2"
    assert (book / "01_dense.ipynb").read_text() == "v2"          # book/ is never written


def test_workspace_without_its_record_keeps_what_differs(tmp_path):
    book, mine = tmp_path / "book", tmp_path / "my-book"
    book.mkdir()
    mine.mkdir()
    _chapter(book, "01_dense.ipynb", "v1")
    _chapter(book, "02_activation.ipynb", "v1")
    _chapter(mine, "01_dense.ipynb", "v1")
    _chapter(mine, "02_activation.ipynb", "work")       # no record: cannot tell, so the reader's file stays
    assert dev.sync_workspace(book, mine)["kept"] == ["02_activation.ipynb"]
    assert (mine / "02_activation.ipynb").read_text() == "work"


def test_lab_settings_install_where_jupyterlab_reads_them_and_name_real_pieces_of_it(tmp_path):
    import json5
    from jupyterlab_server.config import get_page_config
    from jupyterlab_server.settings_utils import _get_overrides

    settings = tmp_path / "share/jupyter/lab/settings"
    installed = dev.install_lab_settings(tmp_path)
    assert installed == [settings / "overrides.d/kbook.json5", settings / "page_config.json5"]
    for target in installed:
        assert target.read_bytes() == (dev.LAB_SETTINGS / target.relative_to(settings)).read_bytes()
    # JupyterLab's own readers find them in the application settings folder ...
    toolbar = [{"name": "executionProgress", "disabled": True}]
    overrides, error = _get_overrides(str(settings))
    assert not error and overrides["@jupyterlab/notebook-extension:panel"]["toolbar"] == toolbar
    disabled = get_page_config([], app_settings_dir=str(settings))["disabledExtensions"]
    assert "@jupyterlab/application-extension:faviconbusy" in disabled
    # ... and what they leave out is still part of the installed JupyterLab: a notebook toolbar item, a plugin.
    lab = Path(sys.prefix, "share/jupyter/lab")
    schema = lab / "schemas/@jupyterlab/notebook-extension/panel.json"
    names = [item["name"] for item in json5.loads(schema.read_text())["jupyter.lab.toolbars"]["Notebook"]]
    assert "executionProgress" in names
    assert any('"@jupyterlab/application-extension:faviconbusy"' in p.read_text(errors="ignore")
               for p in (lab / "static").glob("jlab_core.*.js"))
    # The reader's own page configuration wins, as the README tells (a user-level "false" re-enables).
    import jupyterlab_server.config as lab_config
    reader = {"disabledExtensions": {"@jupyterlab/application-extension:faviconbusy": False}}
    real = lab_config.get_static_page_config
    lab_config.get_static_page_config = lambda **kwargs: reader
    try:
        disabled = get_page_config([], app_settings_dir=str(settings))["disabledExtensions"]
    finally:
        lab_config.get_static_page_config = real
    assert "@jupyterlab/application-extension:faviconbusy" not in disabled
    # An installed copy that differs (an older book's) is brought up to date.
    installed[1].write_text("{}")
    assert dev.install_lab_settings(tmp_path)[1].read_bytes() == (dev.LAB_SETTINGS / "page_config.json5").read_bytes()


def test_the_jupyterlab_running_the_book_has_the_books_settings():
    """dev.py setup (which every dev.py command runs first) installed them into this environment."""
    settings = Path(sys.prefix, "share/jupyter/lab/settings")
    for source in (dev.LAB_SETTINGS / "overrides.d/kbook.json5", dev.LAB_SETTINGS / "page_config.json5"):
        assert (settings / source.relative_to(dev.LAB_SETTINGS)).read_bytes() == source.read_bytes()
