"""``kfunc new`` and ``kfunc templates``: what a user sees and gets on disk."""
from __future__ import annotations

from pathlib import Path

import pytest

from functions.config import load_config
from functions.errors import ConfigError
from knative.settings import load_deploy_settings
from scaffold.templates import BUILTIN_DIR

from .conftest import kfunc

BUILTINS = ["cloudevents", "explainer", "multi-model", "pipeline", "pytorch", "text-generation", "transformers"]


def project_files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def write_user_template(repository: Path, name: str, kfunc_yaml: str = "name: {{name}}\n") -> Path:
    template = repository / name
    (template / "tests").mkdir(parents=True)
    (template / "func.py").write_text('"""{{name}}: mine."""\nfrom functions import predictor\n')
    (template / "kfunc.yaml").write_text(kfunc_yaml)
    (template / "manifest.yaml").write_text('description: "our house style"\n')
    (template / "tests" / "test_func.py").write_text("def test_ok():\n    assert True\n")
    return template


def test_templates_lists_every_builtin_with_a_description(capsys):
    assert kfunc("templates") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == BUILTINS
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in lines)


@pytest.mark.parametrize("template", BUILTINS)
def test_new_creates_the_documented_files_with_the_name_filled_in(new_function, template):
    project = new_function(template, name="fraud-score")
    assert {"func.py", "kfunc.yaml", "requirements.txt", "README.md", "tests/test_func.py"} <= project_files(project)
    assert "manifest.yaml" not in project_files(project)
    assert load_config(project).name == "fraud-score"
    load_deploy_settings(load_config(project))  # the deploy section is one kfunc deploy accepts
    assert "# fraud-score" in (project / "README.md").read_text()
    leftovers = [f for f in project_files(project) if "{{" in (project / f).read_text()]
    assert leftovers == []


def test_new_defaults_to_the_pytorch_template_in_a_directory_named_after_the_function(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert kfunc("new", "churn") == 0
    expected = (BUILTIN_DIR / "pytorch" / "func.py").read_text().replace("{{name}}", "churn")
    assert (tmp_path / "churn" / "func.py").read_text() == expected
    assert "cd " + str(tmp_path / "churn") in capsys.readouterr().out


@pytest.mark.parametrize("name", ["My_Model", "1model", "model-", "a" * 64, "model.v2"])
def test_a_name_that_cannot_name_a_knative_service_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="DNS-1035 label"):
        kfunc("new", name, "--path", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        kfunc("new", "taken", "--path", tmp_path / "taken")
    assert project_files(tmp_path / "taken") == {"notes.txt"}


def test_an_existing_empty_directory_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    assert kfunc("new", "empty", "--path", tmp_path / "empty") == 0
    assert (tmp_path / "empty" / "func.py").is_file()


def test_a_misspelt_template_gets_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'pytorch'"):
        kfunc("new", "x", "--template", "pytroch", "--path", tmp_path / "x")


def test_a_user_repository_template_is_listed_and_rendered(tmp_path, capsys):
    repository = tmp_path / "templates"
    write_user_template(repository, "house")
    assert kfunc("templates", "--repository", repository) == 0
    listed = capsys.readouterr().out
    assert "house" in listed and "our house style" in listed and str(repository) in listed
    assert kfunc("new", "ledger", "--template", "house", "--repository", repository, "--path", tmp_path / "ledger") == 0
    assert (tmp_path / "ledger" / "func.py").read_text().startswith('"""ledger: mine."""')
    assert project_files(tmp_path / "ledger") == {"func.py", "kfunc.yaml", "tests/test_func.py"}


def test_a_user_template_shadows_the_builtin_of_the_same_name(tmp_path):
    repository = tmp_path / "templates"
    write_user_template(repository, "pytorch")
    kfunc("new", "ours", "--repository", repository, "--path", tmp_path / "ours")
    assert "mine" in (tmp_path / "ours" / "func.py").read_text()


def test_a_user_template_with_a_broken_config_writes_nothing(tmp_path):
    repository = tmp_path / "templates"
    write_user_template(repository, "broken", kfunc_yaml="name: {{name}}\nruntime:\n  wokers: 2\n")
    with pytest.raises(ConfigError, match="runtime.wokers: unknown field; did you mean 'workers'"):
        kfunc("new", "svc", "--template", "broken", "--repository", repository, "--path", tmp_path / "svc")
    assert not (tmp_path / "svc").exists()


def test_a_repository_without_templates_is_explained(tmp_path):
    (tmp_path / "empty-repo").mkdir()
    with pytest.raises(ConfigError, match="no templates there"):
        kfunc("templates", "--repository", tmp_path / "empty-repo")
