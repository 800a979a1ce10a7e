"""Relaxivity presets and agent names."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.physics import agent_name, r1_from_gd, relaxivity


def test_gadobutrol_relaxivity_at_1p5t_is_rohrer_2005() -> None:
    assert relaxivity("Gadovist", 1.5) == pytest.approx((5.2, 6.1))
    assert relaxivity("gadobutrol", 3.0) == pytest.approx((5.0, 7.1))
    r1_mid, _ = relaxivity("gadobutrol", 2.25)
    assert r1_mid == pytest.approx(5.1)


def test_agent_names_resolve_and_unknown_lists_choices() -> None:
    assert agent_name("") == "gadobutrol"
    assert agent_name("DOTAREM 0.5 mmol/ml") == "gadoterate"
    with pytest.raises(ValueError, match="gadobutrol"):
        agent_name("unobtainium")


def test_r1_is_linear_in_gd() -> None:
    np.testing.assert_allclose(r1_from_gd([0, 1, 2], r1_0=1.0, relaxivity_r1=5.0), [1, 6, 11])
