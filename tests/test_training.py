"""The one training loop (unsupervised.training.fit), against references written out here:
a hand-rolled Adam loop, torch's own generators replayed, and Adam's known step size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unsupervised.training import Update, fit

X = np.arange(20.0).reshape(10, 2) / 10  # ten rows in R^2


def squared_error(model, batch, generator):
    return ((model(batch) - batch) ** 2).sum(1).mean()


def linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(2, 2).double()


def test_full_batch_matches_a_hand_written_adam_loop():
    model, reference = linear(), linear()
    history = fit(model, X, squared_error, epochs=5, lr=0.05)
    optimiser = torch.optim.Adam(reference.parameters(), lr=0.05)
    data = torch.as_tensor(X)
    losses = []
    for _ in range(5):
        loss = squared_error(reference, data, None)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-12)
    torch.testing.assert_close(model.weight, reference.weight, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(history["epoch"], [1, 2, 3, 4, 5])
    assert np.all(np.diff(history["seconds"]) >= 0)


def test_an_epoch_is_a_reshuffled_partition_and_its_entry_the_row_mean():
    seen = []

    def loss_fn(model, batch, generator):
        seen.append(batch[:, 0].tolist())
        # the recorded term is a per-row quantity averaged over the batch
        return {"loss": model.weight.sum() * 0 + (model(batch) ** 2).mean(), "x": batch.mean()}

    history = fit(linear(), X, loss_fn, epochs=3, batch_size=4, lr=1e-3, seed=7)
    assert [len(b) for b in seen] == [4, 4, 2] * 3  # the last batch of an epoch is short
    for epoch in range(3):
        rows = sorted(sum(seen[3 * epoch : 3 * epoch + 3], []))
        assert rows == sorted(X[:, 0].tolist())  # every row once per epoch
    assert seen[0] != seen[3]  # reshuffled
    # the epoch's entry weights each batch by its size: the mean over all rows, not of batches
    np.testing.assert_allclose(history["x"], [X.mean()] * 3, rtol=1e-12)
    # the order is torch.randperm from a CPU generator seeded with seed
    order = torch.randperm(10, generator=torch.Generator().manual_seed(7))
    np.testing.assert_allclose(seen[0], X[order[:4].numpy(), 0])


def test_steps_draw_rows_with_replacement_from_the_seed():
    seen = []

    def loss_fn(model, batch, generator):
        seen.append(batch[:, 0].clone())
        return (model(batch) ** 2).mean()

    history = fit(linear(), X, loss_fn, steps=4, batch_size=6, seed=3)
    replay = torch.Generator().manual_seed(3)
    for batch in seen:
        rows = torch.randint(10, (6,), generator=replay)
        torch.testing.assert_close(batch, torch.as_tensor(X[rows.numpy(), 0]))
    np.testing.assert_array_equal(history["step"], [1, 2, 3, 4])


def test_the_losses_generator_is_seeded_with_seed_plus_one_and_global_state_is_untouched():
    draws = []

    def loss_fn(model, batch, generator):
        draws.append(torch.rand(3, generator=generator, dtype=torch.float64))
        return (model(batch) ** 2).mean()

    state = torch.get_rng_state()
    fit(linear(), X, loss_fn, epochs=2, seed=11)
    assert torch.equal(state, torch.get_rng_state())
    replay = torch.Generator().manual_seed(12)
    for d in draws:
        torch.testing.assert_close(d, torch.rand(3, generator=replay, dtype=torch.float64))


def test_same_seed_same_history_other_seed_other_history():
    runs = [fit(linear(), X, squared_error, epochs=4, batch_size=3, seed=s) for s in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0]["loss"], runs[1]["loss"])
    assert not np.array_equal(runs[0]["loss"], runs[2]["loss"])


def test_anneal_keeps_lr_then_decays_it_linearly_to_zero():
    # A loss with constant gradient 1: each Adam step moves the parameter by lr_t (m / sqrt(v)
    # = 1 up to eps), so the parameter's path shows the schedule.
    model = nn.Linear(1, 1, bias=False).double()
    path = []
    T, lr = 10, 0.1
    fit(
        model,
        X[:, :1],
        lambda m, b, g: m.weight.sum(),
        epochs=T,
        lr=lr,
        schedule="anneal",
        callback=lambda t, m: path.append(m.weight.item()),
    )
    start = path[0] + lr  # the first step used the full rate
    steps = -np.diff([start, *path])
    expected = [lr * min(1.0, (T - t + 1) / (0.3 * T)) for t in range(1, T + 1)]
    np.testing.assert_allclose(steps, expected, rtol=1e-6)


def test_callback_records_every_kth_unit_and_the_last():
    history = fit(
        linear(),
        X,
        squared_error,
        epochs=5,
        callback=lambda t, m: {"w": m.weight.detach().numpy().copy(), "t": t},
        callback_every=2,
    )
    np.testing.assert_array_equal(history["w_at"], [2, 4, 5])
    np.testing.assert_array_equal(history["t"], [2, 4, 5])
    assert history["w"].shape == (3, 2, 2)


def test_updates_alternate_with_their_own_optimisers_and_rates():
    # Two players with scalar parameters a and b; b's loss reads a after a's update.
    a = nn.Linear(1, 1, bias=False).double()
    b = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        a.weight.fill_(0.0)
        b.weight.fill_(0.0)
    pair = nn.ModuleDict({"a": a, "b": b})
    seen_by_b = []

    def loss_a(model, batch, generator):
        return model["a"].weight.sum()  # gradient 1: a moves by -lr_a per step

    def loss_b(model, batch, generator):
        seen_by_b.append(model["a"].weight.item())
        return -model["b"].weight.sum()  # gradient -1: b moves by +lr per step

    updates = [Update("a_loss", loss_a, a, lr=0.01)] * 2 + [Update("b_loss", loss_b, b)]
    history = fit(pair, X, updates, steps=3, lr=0.1)
    np.testing.assert_allclose(seen_by_b, [-0.02, -0.04, -0.06], rtol=1e-6)
    assert b.weight.item() == pytest.approx(0.3, rel=1e-6)
    np.testing.assert_allclose(history["a_loss"], [-0.01, -0.03, -0.05], rtol=1e-6)


def test_a_loss_that_stops_being_finite_stops_training():
    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit(linear(), X, lambda m, b, g: m.weight.sum() * float("nan"), epochs=3)


def test_exactly_one_of_epochs_and_steps_and_updates_are_checked():
    with pytest.raises(ValueError, match="epochs and steps"):
        fit(linear(), X, squared_error)
    with pytest.raises(ValueError, match="epochs and steps"):
        fit(linear(), X, squared_error, epochs=1, steps=1)
    with pytest.raises(ValueError, match="loss_fn"):
        fit(linear(), X, [squared_error], epochs=1)
    with pytest.raises(ValueError, match="module"):
        Update("x", squared_error, "not a module")


def test_repeated_updates_of_one_module_share_its_adam_state():
    # Loss w^2 (gradient 2w) updated twice per step; the reference is one Adam optimiser
    # stepping twice per step (a fresh optimiser per repeat would restart Adam's moments).
    model = nn.Linear(1, 1, bias=False).double()
    reference = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(1.0)
        reference.weight.fill_(1.0)

    def loss(m, b, g):
        return (m.weight**2).sum()

    fit(model, X[:, :1], [Update("loss", loss, model)] * 2, steps=3, lr=0.1)
    optimiser = torch.optim.Adam(reference.parameters(), lr=0.1)
    for _ in range(6):
        optimiser.zero_grad()
        loss(reference, None, None).backward()
        optimiser.step()
    torch.testing.assert_close(model.weight, reference.weight, rtol=1e-12, atol=0)


def test_data_too_large_for_the_models_dtype_is_refused():
    with pytest.raises(ValueError, match="data must be finite in the model's dtype"):
        fit(nn.Linear(2, 2), np.full((3, 2), 1e300), squared_error, epochs=1)


def test_lr_beyond_the_models_dtype_is_refused_and_steps_may_draw_more_rows_than_n():
    with pytest.raises(ValueError, match="lr must be representable"):
        fit(nn.Linear(2, 2), X, squared_error, epochs=1, lr=1e300)
    sizes = []
    fit(
        linear(),
        X,
        lambda m, b, g: sizes.append(len(b)) or (m(b) ** 2).mean(),
        steps=2,
        batch_size=25,
    )
    assert sizes == [25, 25]  # with replacement, a batch is not capped at the N = 10 rows


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_fn": 3}, "loss_fn must be callable"),
        ({"loss_fn": lambda batch: batch.sum()}, "loss_fn must be callable as"),
        ({"loss_fn": lambda m, b, g: (m(b) ** 2).sum(1)}, "scalar tensor"),
        ({"loss_fn": lambda m, b, g: "loss"}, "scalar tensor"),
        ({"callback": lambda: None}, "callback must be callable as"),
        ({"callback": lambda t, m: 3}, "callback must return None or a dict"),
        ({"desc": 3}, "desc"),
    ],
)
def test_a_careless_loss_or_callback_is_a_value_error_naming_it(kwargs, match):
    args = {"loss_fn": squared_error, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(linear(), X, args.pop("loss_fn"), epochs=1, **args)


def test_a_model_without_parameters_and_an_unnamed_update_are_refused():
    with pytest.raises(ValueError, match="model must have parameters"):
        fit(nn.Identity(), X, squared_error, epochs=1)
    with pytest.raises(ValueError, match="name"):
        Update("", squared_error, linear())
