"""Settings property tests: arbitrary env strings and TOML values never raise and stay valid."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from core.config import KNOB_BY_NAME, KNOBS, apply_overrides, load_settings, redacted, startup_summary
from core.config_knobs import GROUPS
from tests.core.test_config import SECRETS, check_valid

# --- properties -------------------------------------------------------------------------------

_knob_envs = st.sampled_from([k.env for k in KNOBS])
_interesting = st.sampled_from(
    ["", " ", "0", "1", "-1", "true", "off", "nan", "inf", "-inf", "1e308", "-1e308", "9" * 400, "1e-320",
     "0x10", "1_0", "3.5", "USD", "doge", "fixed", "live", "a,b", "1,2,x", "wss://a", "https://b", "::1",
     "0.0.0.0", "\x00", "\u0661\u0662", "  42  ", ",,,", "[1]"]
)
_raw_text = st.one_of(_interesting, st.text(max_size=40), st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True))


@hyp_settings(max_examples=400, deadline=None)
@given(st.dictionaries(_knob_envs, _raw_text, max_size=12))
def test_arbitrary_env_strings_never_raise_and_stay_valid(env: dict[str, str]) -> None:
    s, warnings = load_settings(env)
    check_valid(s)
    assert all(isinstance(w, str) for w in warnings)


@hyp_settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(SECRETS)), st.text(min_size=1, max_size=30), min_size=1),
       st.dictionaries(_knob_envs, _raw_text, max_size=6))
def test_arbitrary_secrets_never_appear_in_output(secrets: dict[str, str], others: dict[str, str]) -> None:
    marked = {k: "SEKRET" + v for k, v in secrets.items()}
    s, warnings = load_settings({**others, **marked})
    text = "\n".join(warnings) + startup_summary(s) + json.dumps(redacted(s))
    assert "SEKRET" not in text


_toml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([k.name for k in KNOBS] + [g[0] for g in GROUPS] + ["junk"]),
                       _toml_values, max_size=10),
       st.dictionaries(_knob_envs, _raw_text, max_size=4))
def test_arbitrary_toml_values_never_raise(data: dict[str, Any], env: dict[str, str]) -> None:
    s, _warnings = load_settings(env, toml_data=data)
    check_valid(s)
    s2, _ = apply_overrides(s, {k: v for k, v in data.items() if k in KNOB_BY_NAME})
    check_valid(s2)
