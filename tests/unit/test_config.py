"""Configuration (evalroom.config): precedence, strictness about unknown names, and errors that name their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalroom.config import Settings, load_settings
from evalroom.errors import ConfigError

PG_URL = "postgresql+psycopg://evalroom:secret@db.example/evalroom"


def _toml(tmp_path: Path, text: str, name: str = "evalroom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and precedence ------------------------------------------------------------------------------


def test_defaults_with_empty_environment():
    s = load_settings(environ={})
    assert s == Settings()
    assert (s.environment, s.host, s.port, s.issuer) == ("production", "127.0.0.1", 8700, "evalroom")
    assert (s.access_token_minutes, s.login_max_failures, s.login_lockout_minutes) == (15, 5, 15)
    assert s.database_url is None and s.key_dir is None and s.auto_migrate is True
    assert s.data_dir == Path("evalroom-data")


def test_file_overrides_defaults(tmp_path):
    path = _toml(tmp_path, 'port = 9000\nhost = "0.0.0.0"\nauto_migrate = false\n')
    s = load_settings(config_file=path, environ={})
    assert (s.port, s.host, s.auto_migrate) == (9000, "0.0.0.0", False)
    assert s.issuer == "evalroom"


def test_env_overrides_file(tmp_path):
    path = _toml(tmp_path, 'port = 9000\nissuer = "from-file"\nhost = "0.0.0.0"\n')
    s = load_settings(config_file=path, environ={"EVALROOM_PORT": "9100", "EVALROOM_ISSUER": "from-env"})
    assert (s.port, s.issuer, s.host) == (9100, "from-env", "0.0.0.0")


def test_overrides_beat_env_and_file(tmp_path):
    path = _toml(tmp_path, 'port = 9000\nissuer = "from-file"\nlogin_max_failures = 7\n')
    s = load_settings(config_file=path, environ={"EVALROOM_PORT": "9100", "EVALROOM_ISSUER": "from-env"},
                      overrides={"port": 9200})
    assert (s.port, s.issuer, s.login_max_failures) == (9200, "from-env", 7)


def test_none_overrides_are_ignored():
    s = load_settings(environ={"EVALROOM_PORT": "9100"}, overrides={"port": None, "host": None})
    assert (s.port, s.host) == (9100, "127.0.0.1")


def test_env_values_are_parsed_to_field_types(tmp_path):
    s = load_settings(environ={"EVALROOM_AUTO_MIGRATE": "false", "EVALROOM_DATA_DIR": str(tmp_path),
                               "EVALROOM_EVENT_POLL_SECONDS": "0.25", "EVALROOM_ENVIRONMENT": "development"})
    assert s.auto_migrate is False
    assert s.data_dir == tmp_path
    assert s.event_poll_seconds == 0.25
    assert s.environment == "development"


def test_config_file_from_evalroom_config_env(tmp_path):
    path = _toml(tmp_path, "port = 9300\n")
    assert load_settings(environ={"EVALROOM_CONFIG": str(path)}).port == 9300


def test_explicit_config_file_wins_over_evalroom_config(tmp_path):
    explicit = _toml(tmp_path, "port = 9301\n", "explicit.toml")
    from_env = _toml(tmp_path, "port = 9302\n", "from_env.toml")
    assert load_settings(config_file=explicit, environ={"EVALROOM_CONFIG": str(from_env)}).port == 9301


def test_empty_evalroom_config_means_no_file():
    assert load_settings(environ={"EVALROOM_CONFIG": ""}).port == 8700


# --- unknown names ----------------------------------------------------------------------------------------


def test_unknown_evalroom_env_var_raises_naming_it():
    with pytest.raises(ConfigError, match="unknown environment variable EVALROOM_PROT") as info:
        load_settings(environ={"EVALROOM_PROT": "9000"})
    assert "EVALROOM_PORT" in str(info.value)  # the list of known names helps spot the typo


def test_evalroom_test_env_vars_are_ignored():
    s = load_settings(environ={"EVALROOM_TEST_POSTGRES_URL": "whatever", "EVALROOM_TEST_X": "1"})
    assert s == Settings()


def test_env_vars_without_the_prefix_are_ignored():
    s = load_settings(environ={"PORT": "1", "EVALROOMPORT": "2", "PATH": "/usr/bin", "evalroom_port": "3"})
    assert s.port == 8700


def test_unknown_toml_key_raises_naming_it(tmp_path):
    path = _toml(tmp_path, 'port = 9000\nprot = 9001\n')
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) prot") as info:
        load_settings(config_file=path, environ={})
    assert str(path) in str(info.value)


def test_toml_table_is_an_unknown_key(tmp_path):
    path = _toml(tmp_path, '[server]\nport = 9000\n')
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) server"):
        load_settings(config_file=path, environ={})


def test_invalid_toml_raises(tmp_path):
    path = _toml(tmp_path, "port = = 9000\n")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_settings(config_file=path, environ={})
    assert str(path) in str(info.value)


def test_missing_file_raises(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_settings(config_file=path, environ={})
    assert str(path) in str(info.value)


def test_missing_file_from_evalroom_config_raises(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"EVALROOM_CONFIG": str(tmp_path / "nope.toml")})


def test_unknown_override_raises_naming_command_line():
    with pytest.raises(ConfigError, match="nope \\(from command line\\)"):
        load_settings(environ={}, overrides={"nope": 1})


# --- bad values name the setting and its source -----------------------------------------------------------


def test_bad_port_from_env_names_setting_and_variable():
    with pytest.raises(ConfigError, match="port \\(from EVALROOM_PORT\\)"):
        load_settings(environ={"EVALROOM_PORT": "abc"})


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_port_out_of_range_raises(port):
    with pytest.raises(ConfigError, match="port \\(from EVALROOM_PORT\\)"):
        load_settings(environ={"EVALROOM_PORT": port})


@pytest.mark.parametrize("port", ["0", "65535"])
def test_port_range_bounds_are_accepted(port):
    assert load_settings(environ={"EVALROOM_PORT": port}).port == int(port)


@pytest.mark.parametrize("minutes", ["0", "61"])
def test_access_token_minutes_out_of_range_from_env(minutes):
    with pytest.raises(ConfigError, match="access_token_minutes \\(from EVALROOM_ACCESS_TOKEN_MINUTES\\)"):
        load_settings(environ={"EVALROOM_ACCESS_TOKEN_MINUTES": minutes})


@pytest.mark.parametrize("minutes", [1, 60])
def test_access_token_minutes_bounds_are_accepted(minutes):
    assert load_settings(environ={}, overrides={"access_token_minutes": minutes}).access_token_minutes == minutes


def test_bad_value_from_file_names_the_file(tmp_path):
    path = _toml(tmp_path, "access_token_minutes = 61\n")
    with pytest.raises(ConfigError, match="access_token_minutes") as info:
        load_settings(config_file=path, environ={})
    assert f"(from {path})" in str(info.value)


def test_bad_value_from_overrides_names_command_line():
    with pytest.raises(ConfigError, match="access_token_minutes \\(from command line\\)"):
        load_settings(environ={}, overrides={"access_token_minutes": 0})


def test_bad_environment_value_raises():
    with pytest.raises(ConfigError, match="environment \\(from EVALROOM_ENVIRONMENT\\)"):
        load_settings(environ={"EVALROOM_ENVIRONMENT": "staging"})


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"EVALROOM_PORT": "abc", "EVALROOM_ACCESS_TOKEN_MINUTES": "0"})
    assert "EVALROOM_PORT" in str(info.value)
    assert "EVALROOM_ACCESS_TOKEN_MINUTES" in str(info.value)


def test_mysql_database_url_is_rejected_naming_the_setting():
    with pytest.raises(ConfigError, match="database_url") as info:
        load_settings(environ={"EVALROOM_DATABASE_URL": "mysql://x"})
    assert "mysql://x" in str(info.value)


def test_mysql_database_url_error_names_its_source():
    with pytest.raises(ConfigError, match="EVALROOM_DATABASE_URL"):
        load_settings(environ={"EVALROOM_DATABASE_URL": "mysql://x"})


# --- derived values ---------------------------------------------------------------------------------------


def test_effective_database_url_defaults_to_sqlite_in_data_dir(tmp_path):
    s = load_settings(environ={"EVALROOM_DATA_DIR": str(tmp_path)})
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'evalroom.db').resolve()}"
    assert s.is_embedded is True


def test_effective_database_url_is_the_configured_url():
    s = load_settings(environ={"EVALROOM_DATABASE_URL": PG_URL})
    assert s.effective_database_url == PG_URL
    assert s.is_embedded is False


def test_explicit_sqlite_url_is_embedded(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    s = load_settings(environ={"EVALROOM_DATABASE_URL": url})
    assert s.effective_database_url == url
    assert s.is_embedded is True


def test_effective_key_dir_defaults_to_data_dir_keys(tmp_path):
    s = load_settings(environ={"EVALROOM_DATA_DIR": str(tmp_path)})
    assert s.effective_key_dir == tmp_path / "keys"


def test_effective_key_dir_is_the_configured_dir(tmp_path):
    s = load_settings(environ={"EVALROOM_DATA_DIR": str(tmp_path / "data"), "EVALROOM_KEY_DIR": str(tmp_path / "k")})
    assert s.effective_key_dir == tmp_path / "k"


def test_effective_public_url():
    assert load_settings(environ={"EVALROOM_PORT": "9000"}).effective_public_url == "http://127.0.0.1:9000"
    s = load_settings(environ={"EVALROOM_PUBLIC_URL": "https://evalroom.example"})
    assert s.effective_public_url == "https://evalroom.example"


def test_settings_are_frozen():
    s = load_settings(environ={})
    with pytest.raises(ValueError):
        s.port = 1  # type: ignore[misc]
