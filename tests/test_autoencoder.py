import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.layers import Dense, Dropout, Identity, ReLU, Sigmoid


def make(embedding="sigmoid", output="sigmoid", dtype=np.float64, seed=0):
    return StackedDenoisingAutoencoder(
        (12, 8, 6, 3), np.random.default_rng(seed),
        embedding_activation=embedding, output_activation=output, dtype=dtype,
    )


def test_pairs_follow_the_specification():
    ae = make()
    kinds = [[type(layer) for layer in pair.layers] for pair in ae.pairs]
    # dropout -> dense -> g1 -> dropout -> dense -> g2 for every pair
    assert kinds[0] == [Dropout, Dense, ReLU, Dropout, Dense, Sigmoid]
    assert kinds[1] == [Dropout, Dense, ReLU, Dropout, Dense, ReLU]
    assert kinds[2] == [Dropout, Dense, Sigmoid, Dropout, Dense, ReLU]
    shapes = [(pair.layers[1].params["W"].shape, pair.layers[4].params["W"].shape)
              for pair in ae.pairs]
    assert shapes == [((12, 8), (8, 12)), ((8, 6), (6, 8)), ((6, 3), (3, 6))]


def test_linear_preset_activations():
    ae = make("linear", "linear")
    assert isinstance(ae.encoder.layers[-1], Identity)
    assert isinstance(ae.decoder.layers[-1], Identity)


def test_stack_shares_the_pair_layers_and_has_no_dropout():
    ae = make()
    stacked = ae.autoencoder.layers
    assert not any(isinstance(layer, Dropout) for layer in stacked)
    assert stacked[0] is ae.pairs[0].layers[1]
    assert stacked[-2] is ae.pairs[0].layers[4]
    assert ae.encoder.layers[-2] is ae.pairs[-1].layers[1]


def test_encode_and_reconstruct_shapes_and_dtype():
    for dtype in (np.float32, np.float64):
        ae = make(dtype=dtype)
        X = np.random.default_rng(1).uniform(size=(50, 12)).astype(dtype)
        Z = ae.encode(X, batch_size=7)
        assert Z.shape == (50, 3) and Z.dtype == dtype
        assert ae.reconstruct(X).shape == (50, 12)
        # batching does not change the result
        assert_allclose(ae.encode(X, batch_size=50), Z, rtol=1e-6)


def test_pretraining_and_finetuning_lower_the_loss():
    rng = np.random.default_rng(2)
    ae = make(dtype=np.float64)
    # data on a 3-d manifold so that the 3-unit bottleneck can reconstruct it
    codes = rng.uniform(size=(400, 3))
    X = 1 / (1 + np.exp(-(codes @ rng.standard_normal((3, 12)))))
    history = ae.pretrain(X, 15, 32, "adam", 3e-3, rng)
    assert len(history) == 3
    for losses in history:
        assert losses[-1] < losses[0]
    finetune = ae.finetune(X, 30, 32, "adam", 3e-3, rng)
    assert finetune[-1] < 0.5 * finetune[0]


def test_pair_trains_on_the_clean_encoding_of_the_pairs_below():
    # encoding each minibatch on the fly gives the same training as encoding
    # all of X first and training the pair on that array
    from numpy_dec.autoencoder import _batched_forward
    from numpy_dec.reporting import Reporter
    from numpy_dec.training import make_optimizer, make_schedule, train_reconstruction

    X = np.random.default_rng(3).uniform(size=(70, 12))
    weights = []
    for on_the_fly in (True, False):
        ae = make(seed=5)
        lower = ae.lower_pairs(2)
        pair_input = X if on_the_fly else _batched_forward(lower, X, 16)
        train_reconstruction(
            ae.pairs[2], pair_input, 2, 16, make_optimizer("adam", ae.pairs[2]),
            make_schedule(1e-2, None), np.random.default_rng(6), Reporter(0),
            lower if on_the_fly else None,
        )
        weights.append([layer.params["W"] for layer in ae.pairs[2].layers[1::3]])
    for on_the_fly, precomputed in zip(*weights):
        assert_allclose(on_the_fly, precomputed, rtol=1e-12, atol=1e-15)
    assert make(seed=5).lower_pairs(0) is None


def test_same_seed_same_weights_and_training():
    X = np.random.default_rng(3).uniform(size=(64, 12))
    runs = []
    for _ in range(2):
        ae = make(seed=5)
        ae.pretrain(X, 2, 16, "sgd", 0.1, np.random.default_rng(6))
        ae.finetune(X, 2, 16, "sgd", 0.1, np.random.default_rng(7))
        runs.append(ae.encode(X))
    assert_array_equal(runs[0], runs[1])


def test_bad_layer_sizes():
    with pytest.raises(ValueError, match="layer_sizes"):
        StackedDenoisingAutoencoder((784,), np.random.default_rng(0))
    with pytest.raises(ValueError, match="layer_sizes"):
        StackedDenoisingAutoencoder((784, 0, 10), np.random.default_rng(0))


def test_bad_activation_and_dropout():
    with pytest.raises(ValueError):
        make(embedding="tanh-ish")
    with pytest.raises(ValueError):
        StackedDenoisingAutoencoder((5, 3), np.random.default_rng(0), drop_prob=1.0)
