"""A function's own variables are validated at its init like the Globals: a bad value fails
the cold start with a ConfigurationError naming the variable, never a silent default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from albums_core import config
from albums_core.config import ConfigurationError, firehose_settings, pds_options_settings

FIREHOSE = (
    "RELAY_URL",
    "FIREHOSE_START_CURSOR",
    "FIREHOSE_LEASE_SECONDS",
    "FIREHOSE_HOLD_SECONDS",
    "FIREHOSE_STOP_MARGIN_SECONDS",
    "FIREHOSE_BATCH_SIZE",
    "FIREHOSE_CHECKPOINT_SECONDS",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in (*FIREHOSE, "AUTH_PDS_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def test_the_firehose_defaults_and_a_blank_start_cursor(env: pytest.MonkeyPatch) -> None:
    env.setenv("RELAY_URL", "wss://relay.example")
    env.setenv("FIREHOSE_START_CURSOR", "")
    got = firehose_settings()
    assert (got.relay_url, got.start_cursor) == ("wss://relay.example", None)
    assert (got.lease_seconds, got.hold_seconds) == (30, 0)
    assert (got.stop_margin_seconds, got.batch_size, got.checkpoint_seconds) == (20, 2000, 1)
    env.setenv("FIREHOSE_START_CURSOR", "0")
    env.setenv("FIREHOSE_BATCH_SIZE", "10")
    config.settings.cache_clear()  # one clear re-reads every model
    assert (firehose_settings().start_cursor, firehose_settings().batch_size) == (0, 10)


@pytest.mark.parametrize(
    "name, value",
    [
        ("RELAY_URL", " "),
        ("FIREHOSE_START_CURSOR", "latest"),
        ("FIREHOSE_START_CURSOR", "-1"),
        ("FIREHOSE_LEASE_SECONDS", "0"),
        ("FIREHOSE_LEASE_SECONDS", "thirty"),
        ("FIREHOSE_HOLD_SECONDS", "-5"),
        ("FIREHOSE_STOP_MARGIN_SECONDS", "soon"),
        ("FIREHOSE_BATCH_SIZE", "0"),
        ("FIREHOSE_BATCH_SIZE", "12.5"),
        ("FIREHOSE_CHECKPOINT_SECONDS", "-1"),
        ("FIREHOSE_CHECKPOINT_SECONDS", "often"),
    ],
)
def test_a_bad_firehose_value_is_named(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv("RELAY_URL", "wss://relay.example")
    env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        firehose_settings()


def test_pds_options(env: pytest.MonkeyPatch) -> None:
    assert pds_options_settings().pds_options == ()
    env.setenv("AUTH_PDS_OPTIONS", '[{"name": "A", "url": "https://a.example", "description": null}]')
    config.settings.cache_clear()
    (option,) = pds_options_settings().pds_options
    assert option.model_dump() == {
        "name": "A",
        "url": "https://a.example",
        "recommended": False,
        "description": "",
        "info_url": None,
    }


@pytest.mark.parametrize(
    "value", ["not json", '{"name": "A"}', '[{"name": "A"}]', '[{"name": 1, "url": "https://a.example"}]', "[1]"]
)
def test_bad_pds_options_are_named(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("AUTH_PDS_OPTIONS", value)
    with pytest.raises(ConfigurationError, match="AUTH_PDS_OPTIONS"):
        pds_options_settings()


@pytest.mark.parametrize("value", ["-1", "a minute"])
def test_a_bad_cache_hit_interval_is_named(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("CACHE_HIT_METRIC_SECONDS", value)
    with pytest.raises(ConfigurationError, match="CACHE_HIT_METRIC_SECONDS"):
        config.metric_settings()
    env.setenv("CACHE_HIT_METRIC_SECONDS", "0")
    config.settings.cache_clear()
    assert config.metric_settings().cache_hit_metric_seconds == 0
