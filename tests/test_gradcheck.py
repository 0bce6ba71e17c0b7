"""Tests of course_lib.gradcheck."""

from __future__ import annotations

import pytest
import torch

from course_lib.gradcheck import check_model_gradients, compute_numeric_gradient, rel_error


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_sin_elementwise_with_upstream_gradient():
    x, dout = _x(4, 5), _x(4, 5, seed=1)
    numeric = compute_numeric_gradient(torch.sin, x, dout)
    assert rel_error(numeric, dout * torch.cos(x)) < 1e-7


def test_square_sum_to_scalar_default_upstream():
    x = _x(3, 2)
    numeric = compute_numeric_gradient(lambda t: (t**2).sum(), x, h=1e-5)
    assert numeric.shape == x.shape and numeric.dtype == torch.float64
    assert rel_error(numeric, 2 * x) < 1e-8


def test_matmul_and_output_aliasing_x():
    x, w, dout = _x(4, 3), _x(3, 6, seed=1), _x(4, 6, seed=2)
    assert rel_error(compute_numeric_gradient(lambda t: t @ w, x, dout), dout @ w.T) < 1e-7
    # f returning (a view of) x itself must still work: f(x + h e_i) is copied before x changes
    assert (
        rel_error(compute_numeric_gradient(lambda t: t.T, x, dout[:, :3].T.contiguous()), dout[:, :3]) < 1e-7
    )


def test_x_is_left_unmodified_also_when_f_raises():
    x = _x(5, 4)
    before = x.clone()
    compute_numeric_gradient(torch.exp, x)
    assert torch.equal(x, before)

    calls = []

    def failing(t):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom")
        return t * 2

    with pytest.raises(RuntimeError, match="boom"):
        compute_numeric_gradient(failing, x)
    assert torch.equal(x, before)


def test_input_validation():
    with pytest.raises(TypeError, match="float64"):
        compute_numeric_gradient(torch.sin, torch.ones(3))
    with pytest.raises(ValueError, match="contiguous"):
        compute_numeric_gradient(torch.sin, _x(3, 4).T)
    with pytest.raises(ValueError, match="dLdf"):
        compute_numeric_gradient(torch.sin, _x(3), torch.ones(4, dtype=torch.float64))
    with pytest.raises(TypeError, match="f must return"):
        compute_numeric_gradient(lambda t: t.float(), _x(3))


def test_rel_error_does_not_hide_an_error_on_a_small_entry():
    analytic = torch.tensor([1000.0, 1e-3], dtype=torch.float64)
    numeric = torch.tensor([1000.0, 2e-3], dtype=torch.float64)
    globally_normalised = ((analytic - numeric).abs().max() / (analytic.abs() + numeric.abs()).max()).item()
    assert globally_normalised < 1e-6
    assert rel_error(analytic, numeric) == pytest.approx(1 / 3)


def test_rel_error_floor_and_shapes():
    assert rel_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert rel_error(torch.zeros(1), torch.full((1,), 1e-12)) == pytest.approx(1e-4)
    assert rel_error(1.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="shapes"):
        rel_error(torch.zeros(2), torch.zeros(3))


class _Quadratic:
    """loss = sum(W * X) ** 2 / 2 + sum(b ** 2), with correct or wrong gradients."""

    def __init__(self, wrong_b: bool = False):
        self.params = {"W": _x(3, 2), "b": _x(2, seed=1)}
        self.wrong_b = wrong_b

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        s = (W * X).sum()
        grads = {"W": s * X, "b": (3.0 if self.wrong_b else 2.0) * b}
        return s**2 / 2 + (b**2).sum(), grads


def test_check_model_gradients(capsys):
    X = _x(3, 2, seed=2)
    errors = check_model_gradients(_Quadratic(), X, None)
    assert list(errors) == ["W", "b"] and max(errors.values()) < 1e-6
    assert "W relative error" in capsys.readouterr().out
    errors = check_model_gradients(_Quadratic(wrong_b=True), X, None, verbose=False)
    assert errors["W"] < 1e-6 and errors["b"] > 0.1
    assert capsys.readouterr().out == ""
