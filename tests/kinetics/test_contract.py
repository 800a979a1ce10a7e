"""One contract for every registered model (parametrised over kinetics.MODELS)."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import kinetics
from qperfusion.constants import MYOCARDIAL_DENSITY_G_ML
from qperfusion.errors import FitInputError

HCT = 0.42


@pytest.fixture(scope="module")
def curves():
    t = np.arange(0.0, 50.0, 1.0) + 0.2 * np.sin(np.arange(50))  # uneven beats
    fine = np.arange(0.0, 60.0, 0.01)
    cb = kinetics.population_aif(fine, onset=4.0)
    fp = np.array([0.01, 0.02, 0.03, 0.025, 0.015])
    truth = kinetics.tcxm_conc(fine, cb / (1 - HCT), fp=fp, ps=0.012, vp=0.06, ve=0.18, delay=0.8)
    c = np.stack([np.interp(t, fine, row) for row in truth])
    c += np.random.default_rng(5).normal(0.0, 0.01, c.shape)
    c[1, 7] = np.nan  # a bad pixel
    return t, np.interp(t, fine, cb), c


@pytest.mark.parametrize("name", kinetics.MODELS)
def test_model_contract(name, curves):
    t, aif, c = curves
    model = kinetics.get_model(name)
    assert model.name == name
    assert model.aif_kind in ("blood", "plasma")
    assert set(model.param_units) == set(model.param_names) == set(model.default_bounds)
    assert model.flow_param is None or model.flow_param in model.param_names
    assert model.reference
    before = c.copy()
    fit = kinetics.fit(name, c, aif=aif, times=t, hematocrit=HCT)
    n = c.shape[0]
    for arr in (fit.success, fit.rss, fit.residual, fit.aic, fit.mbf_ml_min_g, fit.fp_ml_min_g):
        assert arr.shape == (n,)
    assert set(fit.params) == set(fit.sd) == set(model.param_names)
    assert all(v.shape == (n,) for v in fit.params.values())
    # the bad pixel: NaN, not success; the others fitted
    assert not fit.success[1]
    assert all(np.isnan(v[1]) for v in fit.params.values())
    assert np.isnan(fit.mbf_ml_min_g[1])
    good = np.arange(n) != 1
    assert fit.success[good].all()
    assert np.all(np.isfinite(fit.aic[good]))
    pred = fit.predict()
    assert pred.shape == c.shape
    assert np.all(np.isnan(pred[1]))
    np.testing.assert_allclose(
        np.sqrt(np.mean((pred[good] - c[good]) ** 2, axis=1)), fit.residual[good], rtol=1e-6
    )
    # units: flows reported per gram, blood and plasma related by the hematocrit
    if model.flow_param is None:
        assert np.all(np.isnan(fit.mbf_ml_min_g))
    else:
        flow = fit.params[model.flow_param][good] * 60.0 / MYOCARDIAL_DENSITY_G_ML
        blood = flow if model.aif_kind == "blood" else flow / (1 - HCT)
        np.testing.assert_allclose(fit.mbf_ml_min_g[good], blood)
        np.testing.assert_allclose(fit.fp_ml_min_g[good], blood * (1 - HCT))
        assert np.all((fit.mbf_ml_min_g[good] > 0.1) & (fit.mbf_ml_min_g[good] < 20))
    # inputs never modified
    np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize("name", kinetics.MODELS)
def test_model_rejects_unknown_option(name, curves):
    t, aif, c = curves
    with pytest.raises(FitInputError, match=r"unknown.*option"):
        kinetics.fit(name, c[:2], aif=aif, times=t, hematocrit=HCT, not_an_option=1)
