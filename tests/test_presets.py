"""One place to choose the preset of all four notebooks: PRESET = None in a notebook means
WEEDOUT_PRESET, else the first line of notebooks/preset.txt, else smoke; a PRESET given by
papermill or the CLI wins over both. Bad values name where they came from."""
import pytest

from weedout import config
from weedout.config import paths


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No WEEDOUT_PRESET (the root conftest sets one for nbval) and a preset file in tmp."""
    monkeypatch.delenv(config.presets.PRESET_ENV, raising=False)
    monkeypatch.setattr(paths, "PRESET_FILE", tmp_path / "preset.txt")
    return tmp_path / "preset.txt"


def test_none_means_smoke_on_a_fresh_clone(clean_env):
    assert config.default_preset() == ("smoke", "default")
    assert config.resolve(None).preset == "smoke"


def test_environment_variable_sets_every_notebook(clean_env, monkeypatch):
    monkeypatch.setenv(config.presets.PRESET_ENV, "cpu")
    assert config.resolve(None).preset == "cpu"
    assert config.resolve().preset == "cpu"  # a notebook's PRESET = None


def test_preset_file_with_comments(clean_env):
    clean_env.write_text("# which results the notebooks show\n\ncpu_evolution  # committed\n")
    assert config.default_preset() == ("cpu_evolution", str(clean_env))
    assert config.resolve(None).preset == "cpu_evolution"


def test_environment_wins_over_file_and_parameter_wins_over_both(clean_env, monkeypatch):
    clean_env.write_text("cpu\n")
    monkeypatch.setenv(config.presets.PRESET_ENV, "cpu_evolution")
    assert config.resolve(None).preset == "cpu_evolution"
    # what papermill injects (-p PRESET smoke) and the CLI passes: an explicit value
    assert config.resolve("smoke").preset == "smoke"


@pytest.mark.parametrize("where", ["env", "file"])
def test_bad_default_names_its_source_value_and_the_choices(clean_env, monkeypatch, where):
    if where == "env":
        monkeypatch.setenv(config.presets.PRESET_ENV, "cpux")
        source = "WEEDOUT_PRESET"
    else:
        clean_env.write_text("cpux\n")
        source = str(clean_env)
    with pytest.raises(ValueError) as err:
        config.resolve(None)
    assert f"{source}='cpux' is not allowed" in str(err.value)
    assert "'smoke'" in str(err.value) and "'cpu'" in str(err.value)


def test_empty_file_is_an_error_not_a_silent_default(clean_env):
    clean_env.write_text("# nothing chosen yet\n")
    with pytest.raises(ValueError, match="preset.txt='' is not allowed"):
        config.resolve(None)
