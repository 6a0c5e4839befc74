import numpy as np
import pytest

from helpers.windows import SequentialWindows, StreamDataset, WindowDataset, split_ids

pytestmark = pytest.mark.core


def test_split_contiguous():
    ids = np.arange(100)
    tr, va = split_ids(ids, 0.1)
    assert len(tr) == 90 and len(va) == 10 and va[0] == 90


def test_random_windows_targets_shifted_and_reproducible():
    ids = np.arange(1000, dtype=np.uint16)
    ds = WindowDataset(ids, seq_len=20, batch_size=8, steps_per_epoch=5, seed=3)
    x, y = ds[0]
    assert x.shape == y.shape == (8, 20) and x.dtype == np.int32
    np.testing.assert_array_equal(y, x + 1)  # next-token targets at every position
    np.testing.assert_array_equal(ds[0][0], x)  # same epoch, same batch
    ds.on_epoch_end()
    assert not np.array_equal(ds[0][0], x)  # a fresh draw next epoch
    assert len(ds) == 5


def test_windows_do_not_materialise_the_corpus():
    ids = np.zeros(5_000_000, dtype=np.uint8)
    ds = WindowDataset(ids, seq_len=256, batch_size=64)
    x, _ = ds[0]
    assert ds.ids is ids  # no copy of the corpus
    assert x.nbytes == 64 * 256 * 4  # one batch, not all windows


def test_sequential_windows_cover_every_token_once():
    ids = np.arange(105)
    ds = SequentialWindows(ids, seq_len=10, batch_size=4)
    xs = np.concatenate([ds[i][0].ravel() for i in range(len(ds))])
    np.testing.assert_array_equal(xs, np.arange(100))


def test_too_short_corpus_is_a_clear_error():
    with pytest.raises(ValueError, match="too few"):
        WindowDataset(np.arange(10), seq_len=20)


def test_streams_continue_row_by_row_and_move_each_pass():
    n = 10_000
    ids = np.arange(n, dtype=np.int32)  # each token is its own position
    ds = StreamDataset(ids, seq_len=16, batch_size=4, seed=1)
    assert ds.lane == 2500 and ds.steps_per_pass == 156 and ds.num_batches is None
    per_pass = ds.steps_per_pass
    batches = [ds[i] for i in range(2 * per_pass)]
    assert [i for i in range(2 * per_pass) if ds.starts_pass(i)] == [0, per_pass]
    for k, (x, y) in enumerate(batches):
        np.testing.assert_array_equal(y, (x + 1) % n)
        if (k + 1) % per_pass:  # within a pass, each row continues where it ended
            np.testing.assert_array_equal(batches[k + 1][0][:, 0], y[:, -1])
    for p in (0, 1):  # a pass reads every position at most once, rows in their own lanes
        xs = np.concatenate([x for x, _ in batches[p * per_pass:(p + 1) * per_pass]], axis=1)
        assert len(np.unique(xs)) == xs.size == 4 * per_pass * 16
        np.testing.assert_array_equal(xs[:, 0], ds.lane_starts(p))
        assert (np.diff(ds.lane_starts(p)) % n == ds.lane).all()
    assert batches[0][0][0, 0] != batches[per_pass][0][0, 0]  # the next pass starts elsewhere
    # resuming at a global step gives the same batches
    later = StreamDataset(ids, seq_len=16, batch_size=4, seed=1, start_step=200)
    np.testing.assert_array_equal(later[3][0], ds[203][0])


def test_streams_too_short():
    with pytest.raises(ValueError, match="streams"):
        StreamDataset(np.arange(500), seq_len=64, batch_size=8)
