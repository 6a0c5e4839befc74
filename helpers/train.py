"""Train a model on a corpus, with checkpoints that survive a killed run.

``train(text, run_dir)`` does everything: builds (or reloads) the vocabulary,
encodes the corpus once (:func:`helpers.corpus_cache.load_corpus`), splits it (first 90%
train, last 10% validation), builds the model, and calls ``model.fit`` on random windows.
Read top to bottom: :func:`train` checks the settings; under the run folder's lock
``_prepare`` settles everything that can refuse (resume point, settings, vocabulary,
corpus, splits, model), ``_first_writes`` writes, and ``_fit`` plans the mode, gathers the
callbacks (:mod:`helpers.callbacks`, one per job) and fits. Every epoch it

* scores the whole validation split (loss in nats per token, and bits per token),
* writes ``last.keras`` (model + optimizer, for resuming) and, when validation
  improved, ``best.keras``, both atomically,
* appends to ``history.csv`` / ``history.json``, and prints a few samples.

Run it again with the same ``run_dir`` and it resumes after the last finished
epoch. A wall-clock budget (``max_minutes``) ends training cleanly.

With ``carry_state=True`` it trains by truncated backpropagation through time instead:
the training split is read as ``batch_size`` contiguous streams
(:class:`~helpers.windows.StreamDataset`) and a :class:`~helpers.model.CarryStateModel`
carries the recurrent state from batch to batch; the plain network is what is validated,
saved and sampled, so checkpoints look the same either way.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .callbacks import (
    LN2,
    Checkpoints,
    Clock,
    Samples,
    StreamResets,
    TimeBudget,
    TimeCosine,
    time_cosine_lr,
)
from .corpus_cache import EncodedCorpus, load_corpus
from .documents import wrapped
from .errors import TextgenError
from .fused_rnn import fused_cpu_rnn
from .model import CarryStateModel, RegularisedModel, build_model, config_of, count_params
from .rundir import ResumePoint, RunDir, RunDirError
from .settings import ModelConfig, TrainConfig
from .textio import CorpusError, display_path, text_files
from .vocab import Vocab
from .windows import SequentialWindows, StreamDataset, WindowDataset, split_ids

__all__ = ["TrainConfig", "TrainResult", "train", "compile_model", "time_cosine_lr",
           "enable_data_parallel"]


class BackendError(TextgenError, RuntimeError):
    """The Keras backend in use cannot do what was asked (data parallelism needs JAX)."""


@dataclass
class TrainResult:
    model: keras.Model
    vocab: Vocab
    run_dir: Path
    history: list[dict] = field(default_factory=list)
    best_val_loss: float = math.inf
    seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"TrainResult(run_dir={display_path(self.run_dir)!r}, epochs={len(self.history)}, "
                f"best_val_loss={self.best_val_loss:.4f} nats/token "
                f"({self.best_val_loss / LN2:.3f} bits), seconds={self.seconds:.0f})")


def compile_model(model: keras.Model, config: TrainConfig, total_steps: int) -> keras.Model:
    """Adam(W) with optional cosine decay + warmup and gradient clipping."""
    lr = config.learning_rate
    if config.schedule == "cosine":
        warm = min(config.warmup_steps, max(1, total_steps // 10))
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * 0.1 if warm else config.learning_rate,
            decay_steps=max(1, total_steps - warm), alpha=config.min_lr_fraction,
            warmup_target=config.learning_rate if warm else None, warmup_steps=warm,
        )
    # "cosine-time" is set by the TimeCosine callback from the clock; "constant" is lr
    # ema: the optimizer keeps the moving average; train() swaps it into the model for
    # each validation and checkpoint (keras.callbacks.SwapEMAWeights)
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.weight_decay:
        opt = keras.optimizers.AdamW(lr, weight_decay=config.weight_decay,
                                     clipnorm=config.clipnorm, **ema)
    else:
        opt = keras.optimizers.Adam(lr, clipnorm=config.clipnorm, **ema)
    model.compile(optimizer=opt,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def enable_data_parallel(batch_size: int | None = None) -> list[str]:
    """Replicate the model on every local device and split each batch between them
    (``keras.distribution.DataParallel``). Supported with the JAX backend; on a CPU,
    ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` makes four devices."""
    if keras.backend.backend() != "jax":
        raise BackendError(
            "Data-parallel training uses keras.distribution, which supports the JAX backend: "
            "set KERAS_BACKEND=jax (pip install 'jax[cpu]' or a CUDA build of jax).")
    devices = keras.distribution.list_devices()
    if batch_size is not None and batch_size % len(devices):
        raise ValueError(f"batch_size {batch_size} must be divisible by the {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return devices


@dataclass
class _Plan:
    """How ``fit`` runs, chosen once: the model it fits, its data, its arguments, the
    callbacks that mode needs, and the validation data that the checkpoints score."""

    fit_model: keras.Model
    data: keras.utils.PyDataset
    fit_kwargs: dict
    callbacks: list
    val_in_callback: SequentialWindows | None


def _plan(model: keras.Model, tc: TrainConfig, train_ids: np.ndarray, val: SequentialWindows,
          start_epoch: int, compile_new: bool) -> _Plan:
    """Random windows (the default) or carried state over contiguous streams."""
    if tc.carry_state:
        data = StreamDataset(train_ids, tc.seq_len, tc.batch_size, seed=tc.seed)
        steps = tc.steps_per_epoch or data.steps_per_pass
        data.start_step = start_epoch * steps
    else:
        data = WindowDataset(train_ids, tc.seq_len, tc.batch_size, tc.steps_per_epoch,
                             seed=tc.seed)
        steps = len(data)
        data.epoch = start_epoch
    if compile_new:
        compile_model(model, tc, tc.epochs * steps)
    if not tc.carry_state:
        fit_model = model
        if tc.weight_drop or tc.ar or tc.tar:  # fit the regularised form (same weights),
            # save the plain one
            fit_model = RegularisedModel(model, tc.weight_drop, tc.ar, tc.tar, seed=tc.seed)
            fit_model.compile(optimizer=model.optimizer, loss=model.loss)
        return _Plan(fit_model, data, {"validation_data": val, "shuffle": True}, [], None)
    # fit the carrying form; score and save the plain network
    fit_model = CarryStateModel(model, tc.batch_size, weight_drop=tc.weight_drop, ar=tc.ar,
                                tar=tc.tar, seed=tc.seed)
    fit_model.compile(optimizer=model.optimizer, loss=model.loss)
    rng = np.random.default_rng((tc.seed, start_epoch))
    return _Plan(fit_model, data,
                 {"validation_data": None, "steps_per_epoch": steps,
                  "shuffle": False},  # streams must be read in order
                 [StreamResets(data, tc, rng)], val)


def train(
    text: str | os.PathLike | EncodedCorpus,
    run_dir: str | os.PathLike = "runs/latest",
    model_config: ModelConfig | dict | None = None,
    train_config: TrainConfig | dict | None = None,
    vocab: Vocab | None = None,
    documents: bool | None = None,
    resume: bool = True,
    resume_from: str = "last",
    prompt: str = "",
    callbacks: list | None = None,
    data_parallel: bool = False,
    init_from: str | os.PathLike | None = None,
    new_tokens: str = "add",
) -> TrainResult:
    """Train (or resume training) a model on ``text``; see the module docstring.

    Args:
        text: the corpus: a string of text, a path to a text file or folder (a
            :class:`pathlib.Path`; encoded through the corpus cache), or an
            :class:`~helpers.corpus_cache.EncodedCorpus` (from
            :func:`~helpers.corpus_cache.load_corpus`: ids and vocabulary, which may be a
            memory map of a corpus larger than memory: the splits and windows read it in
            place). A text or a path goes through :func:`~helpers.corpus_cache.load_corpus`
            once the vocabulary is known.
        run_dir: where checkpoints, vocabulary and history go. If it holds an
            unfinished run with the same vocabulary, training continues from it.
        model_config: network sizes (``vocab_size`` is filled in for you).
        train_config: optimisation settings, all checked before anything is read or
            written. A resumed run takes the settings given here (a dict: its keys; a
            :class:`TrainConfig`: all of them) and the rest from its ``config.json``,
            and records what it applied; a setting the saved optimizer, model or
            validation split holds (``helpers.settings.RESUME_FIXED``: clipping, weight
            decay, EMA, precision, the split; and the learning rate and its schedule
            when a "cosine" decay, saved inside the optimizer, is involved) given with
            another value is refused, naming it. Between "constant" and "cosine-time" the
            learning rate may change; "cosine" keeps decaying over the steps planned at
            the first start.
        vocab: defaults to a character vocabulary counted from ``text``.
        documents: ``text`` is documents wrapped in start/end tokens (postings, tweets).
            ``None`` (the default): for a path, what the note ``corpus`` wrote beside it
            says (:func:`helpers.documents.wrapped`); otherwise no.
        resume: continue the run in ``run_dir`` if there is one. ``False`` starts over
            and moves the old run's files to ``run_dir/previous/`` (nothing is deleted).
        resume_from: ``"last"`` (after the last finished epoch) or ``"best"`` (from
            ``best.keras`` and its epoch, e.g. when ``last.keras`` was lost).
        prompt: what the per-epoch samples start from.
        data_parallel: split every batch across all local devices (GPUs, or CPU
            devices) with ``keras.distribution.DataParallel``; JAX backend only.
        init_from: start from a pretrained model (a zoo name, a bundle folder or a run
            folder) instead of random weights: its architecture and vocabulary, grown by
            the tokens of ``text`` (a string or a path, not an encoded corpus) it lacks
            (``new_tokens="add"``) or with those mapped to the unknown token (``"map"``);
            see :mod:`helpers.finetune`. A resumed run continues from its own checkpoint.
    """
    # every setting is checked now, before the lock, the corpus or any file is touched;
    # ``tc_asked`` is what a resumed run takes from the caller (a dict: its keys; a
    # TrainConfig: all of it), the rest comes from the run's config.json
    if isinstance(train_config, TrainConfig):
        tc, tc_asked = train_config, train_config.to_dict()
    else:
        tc_asked = dict(train_config or {})
        tc = TrainConfig.from_dict(tc_asked)
    model_asked = _check_model_config(model_config)
    if resume_from not in ("last", "best"):
        raise ValueError("resume_from must be 'last' or 'best'")
    _check_combination(tc, data_parallel)
    if not isinstance(text, (str, EncodedCorpus)):  # a path: missing or unreadable files
        text_files(text)  # are refused now too, before the run folder is made
        documents = wrapped(text, documents)[0]  # and so is a note that cannot be trusted
    elif documents is None:
        documents = False
    elif not isinstance(documents, bool):
        raise TypeError(f"documents must be True or False, not {documents!r}")
    run = RunDir(run_dir)
    with run.lock():  # nothing in the folder is touched before this
        job = _prepare(run, text, vocab, model_config, tc, tc_asked, model_asked,
                       resume_from if resume else None, data_parallel, init_from,
                       new_tokens)
        _first_writes(run, job, documents, fresh=not resume)
        return _fit(run, job, documents, prompt, callbacks)


def _check_model_config(model_config) -> dict:
    """Check the model settings now (a dict has no vocabulary size yet: a stand-in is
    used) and return the ones asked for (those a resumed run must agree with)."""
    if isinstance(model_config, ModelConfig):
        return {k: v for k, v in model_config.to_dict().items() if k != "vocab_size"}
    asked = dict(model_config or {})
    ModelConfig.from_dict({"vocab_size": 2, **asked})
    return {k: v for k, v in asked.items() if k != "vocab_size"}


def _check_combination(tc: TrainConfig, data_parallel: bool) -> None:
    if data_parallel and tc.carry_state:
        raise ValueError("carry_state=True and data_parallel=True cannot be combined: the "
                         "carried state is one (batch, units) array on one device.")


def _resumed_settings(run: RunDir, tc_asked: dict, model_asked: dict,
                      data_parallel: bool) -> TrainConfig:
    """What a resumed run trains with (:func:`helpers.settings.resume_config`); a model
    setting asked with another value than the run's model has is refused, naming it."""
    from .settings import SettingsError, resume_config

    saved = run.read_config()
    where = display_path(run.path)
    if not (isinstance(saved, dict) and isinstance(saved.get("train", {}), dict)
            and isinstance(saved.get("model", {}), dict)):
        raise RunDirError(f"{display_path(run.config_file)} is damaged (its settings are not "
                          "a dictionary). Start over with --fresh, or restore the file.")
    for name, value in model_asked.items():
        was = saved.get("model", {}).get(name)
        if was is not None and was != value:
            flag = "--" + name.replace("_", "-")
            raise SettingsError(
                f"{flag} ({name}) cannot change when resuming {where}: its model was built "
                f"with {was!r}, not {value!r}. Leave it out to continue the run, start over "
                "with --fresh (the old run is moved to previous/), or start a new run from "
                f"this one with --init-from {where}.")
    try:  # a recorded model must be one this package could have built
        if saved.get("model"):
            ModelConfig.from_dict(saved["model"])
    except (SettingsError, TypeError, ValueError) as e:
        raise RunDirError(f"{display_path(run.config_file)} is damaged ({e}). Start over with "
                          "--fresh, or restore the file.") from None
    tc = resume_config(saved.get("train"), tc_asked, where)
    _check_combination(tc, data_parallel)
    return tc


@dataclass
class _Job:
    """A training settled before its first write: the settings it trains with, its
    vocabulary, data and model, the checkpoint it resumes (None: a new run) and where its
    weights started (a pretrained model's record, or None)."""

    tc: TrainConfig
    vocab: Vocab
    model: keras.Model
    train_ids: np.ndarray
    val: SequentialWindows
    point: ResumePoint | None = None
    init: dict | None = None

    @property
    def initial_epoch(self) -> int:
        return self.point.epoch if self.point is not None else 0

    @property
    def best(self) -> float:
        return self.point.best_val_loss if self.point is not None else math.inf

    @property
    def elapsed0(self) -> float:
        return self.point.elapsed_seconds if self.point is not None else 0.0


def _prepare(run: RunDir, text, vocab: Vocab | None, model_config, tc: TrainConfig,
             tc_asked: dict, model_asked: dict, resume_from: str | None, data_parallel: bool,
             init_from, new_tokens: str) -> _Job:
    """Everything that can refuse, in this order, before anything is written: the resume
    point and the settings it continues with, the vocabulary, the corpus and its splits,
    the model. ``resume_from`` is None for a fresh start."""
    point = run.resume_point(resume_from) if resume_from is not None else None
    if point is not None:  # the settings it continues with, checked before any write
        tc = _resumed_settings(run, tc_asked, model_asked, data_parallel)
        run.read_samples()  # a damaged samples.json is refused now, not after an epoch
    keras.utils.set_random_seed(tc.seed)
    if data_parallel:
        enable_data_parallel(tc.batch_size)
    vocab = _known_vocab(run, point, text, vocab)
    start = None
    if point is None and init_from is not None:
        start = _pretrained(init_from, text, vocab, model_config, new_tokens, tc.precision)
        vocab = start.vocab
    corpus = text if isinstance(text, EncodedCorpus) else load_corpus(text, vocab)
    if corpus.source is not None and not isinstance(text, EncodedCorpus):
        print(f"Corpus: {len(corpus):,} tokens, {corpus.how}.")  # a path: cached or not
    vocab = vocab if vocab is not None else corpus.vocab
    train_ids, val = _splits(corpus.ids, tc, data_parallel)
    if point is not None:
        model, init = _resumed_model(run, point, tc), run.read_config().get("init_from")
    elif start is not None:
        model, init = start.model, start.info
    else:
        model, init = _new_model(model_config, vocab, tc.precision), None
    return _Job(tc, vocab, model, train_ids, val, point, init)


def _known_vocab(run: RunDir, point: ResumePoint | None, text, vocab: Vocab | None
                 ) -> Vocab | None:
    """The vocabulary known before the corpus is read: an encoded corpus's (which must be
    the one asked for) and a resumed run's own (which must be that one too); else the one
    asked for, or None (counted from the corpus, or a pretrained one grown)."""
    if isinstance(text, EncodedCorpus):
        if vocab is not None and vocab != text.vocab:
            raise ValueError("The corpus was encoded with another vocabulary: encode it with "
                             "this one (load_corpus(path, vocab)) or leave vocab out.")
        vocab = text.vocab
    if point is not None:
        saved_vocab = run.read_vocab()
        if vocab is not None and vocab != saved_vocab:
            raise RunDirError(f"{display_path(run.path)} holds a run with a different "
                              "vocabulary; use another run_dir, or --fresh to start over.")
        vocab = saved_vocab
    return vocab


def _pretrained(init_from, text, vocab: Vocab | None, model_config, new_tokens: str,
                precision: str):
    """The pretrained start (:func:`helpers.finetune.start_from`: its model, and its
    vocabulary grown from the corpus's counts), announced in one line."""
    if isinstance(text, EncodedCorpus):
        raise ValueError("init_from needs the corpus as text or as a path (the pretrained "
                         "vocabulary grows from its counts, then the corpus is encoded with "
                         "it): pass the string or the file's Path, not an EncodedCorpus.")
    if vocab is not None:
        raise ValueError("Give either vocab or init_from: a pretrained model brings "
                         "its own vocabulary.")
    from .finetune import start_from

    mc = model_config.to_dict() if isinstance(model_config, ModelConfig) else model_config
    start = start_from(init_from, text, mc, new_tokens, precision=precision)
    i = start.info
    shown = " ".join(i["added_tokens"][:20]) + (" ..." if i["added"] > 20 else "")
    print(f"Starting from {i['name']} ({i['vocab_before']} tokens): {i['added']} new "
          f"token(s) added to the vocabulary{f' ({shown!r})' if i['added'] else ''}; "
          f"{i['mapped_to_unknown']:,} occurrence(s) mapped to the unknown token.")
    return start


def _splits(ids: np.ndarray, tc: TrainConfig, data_parallel: bool
            ) -> tuple[np.ndarray, SequentialWindows]:
    """The training ids and the validation windows. An encoded corpus may be a memory
    map: the splits are views of it, not copies."""
    train_ids, val_ids = split_ids(ids, tc.val_fraction)
    if tc.val_max_tokens and len(val_ids) > tc.val_max_tokens:
        val_ids = val_ids[: tc.val_max_tokens]
    if len(val_ids) < tc.seq_len + 1:
        raise CorpusError(
            f"The corpus ({len(ids):,} tokens) is too small: its validation split has "
            f"{len(val_ids)} tokens, fewer than one window of {tc.seq_len}. Use more text or a "
            "smaller seq_len."
        )
    return train_ids, SequentialWindows(val_ids, tc.seq_len, tc.batch_size,
                                        drop_remainder=data_parallel)


def _resumed_model(run: RunDir, point: ResumePoint, tc: TrainConfig) -> keras.Model:
    """The checkpoint a resumed run continues from, with the learning rate asked for."""
    model = run.load_model(path=point.model_path)
    if tc.schedule == "constant":  # the rate is a variable of the saved optimizer (a
        # "cosine" one is refused by resume_config when it would change; "cosine-time"
        # is set from the clock by TimeCosine)
        model.optimizer.learning_rate.assign(tc.learning_rate)
    print(f"Resuming {display_path(run.path)} after epoch {point.epoch} (from "
          f"{point.model_path.name}; best val_loss {point.best_val_loss:.4f}).")
    return model


def _new_model(model_config, vocab: Vocab, precision: str) -> keras.Model:
    """A new network for ``vocab`` (its size filled in, and checked again)."""
    mc = model_config if isinstance(model_config, ModelConfig) else None
    if mc is None:
        mc = ModelConfig.from_dict({**(model_config or {}), "vocab_size": len(vocab)})
    if mc.vocab_size != len(vocab):
        mc = dataclasses.replace(mc, vocab_size=len(vocab))  # checked again: its size
    return build_model(mc, precision=precision)


def _first_writes(run: RunDir, job: _Job, documents: bool, fresh: bool) -> None:
    """Only now, when nothing can refuse any more: an old run set aside (``fresh``), the
    vocabulary of a new run, and the run's config.json."""
    if fresh:
        moved = run.set_aside()
        if moved is not None:
            print(f"Starting over: the previous run is kept in {display_path(moved)}.")
    if job.point is None:
        run.write_vocab(job.vocab)
    config = {
        "model": config_of(job.model).to_dict(), "train": job.tc.to_dict(),
        "documents": documents, "vocab_fingerprint": job.vocab.fingerprint(),
        "params": count_params(job.model), "backend": keras.backend.backend(),
    }
    if job.init:  # where the weights started, kept across resumes (the card names it)
        config["init_from"] = job.init
    run.write_config(config)


def _fit(run: RunDir, job: _Job, documents: bool, prompt: str, callbacks) -> TrainResult:
    """Train from where ``job`` starts to its last epoch (or time budget); the result
    holds the best model."""
    tc = job.tc
    epochs = _epochs(run, job)
    plan = _plan(job.model, tc, job.train_ids, job.val, job.initial_epoch,
                 compile_new=job.point is None)
    clock = Clock(job.elapsed0)
    history = list(job.point.history) if job.point is not None else []
    checkpoints = Checkpoints(run, job.model, job.best, history, clock, plan.val_in_callback)
    jobs = _callbacks(run, job, plan, checkpoints, clock, documents, prompt)
    t0 = time.time()
    with fused_cpu_rnn():  # torch on a CPU: the recurrent layers' fused kernel (no-op elsewhere)
        plan.fit_model.fit(plan.data, epochs=epochs, initial_epoch=job.initial_epoch,
                           callbacks=[*jobs, *(callbacks or [])], verbose=tc.verbose,
                           **plan.fit_kwargs)
    model = run.load_model("best") if run.best.exists() else job.model
    return TrainResult(model, job.vocab, run.path, checkpoints.history, checkpoints.best,
                       time.time() - t0)


def _epochs(run: RunDir, job: _Job) -> int:
    """The epoch ``fit`` stops after: the one asked for, or none more when the time budget
    is spent (not one step recorded as a whole epoch)."""
    tc, done, spent = job.tc, job.initial_epoch, job.elapsed0
    if done >= tc.epochs:
        print(f"{display_path(run.path)} already finished {done} epochs; raise "
              "epochs to train more.")
    elif tc.max_minutes is not None and spent >= tc.max_minutes * 60:
        print(f"{display_path(run.path)} has spent its time budget ({spent:.0f} s of "
              f"max_minutes={tc.max_minutes:g}); raise max_minutes (--max-minutes) to train "
              "more.")
        return done
    return tc.epochs


def _callbacks(run: RunDir, job: _Job, plan: _Plan, checkpoints: Checkpoints,
               clock: Clock, documents: bool, prompt: str) -> list:
    """One callback per job, in the order they must run: the mode's own, the EMA swap,
    the checkpoints, then the time budget, samples and early stopping."""
    tc = job.tc
    jobs: list = [*plan.callbacks, checkpoints]
    if tc.ema:  # the average in the model from the end of each epoch to the start of the next:
        # validation, best.keras and last.keras see it, training steps move the raw weights
        jobs.insert(len(plan.callbacks), keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if tc.schedule == "cosine-time":
        jobs.insert(0, TimeCosine(tc, clock))
    if tc.max_minutes is not None:
        jobs.append(TimeBudget(tc.max_minutes, clock))
    if tc.samples_per_epoch:
        jobs.append(Samples(job.model, job.vocab, tc, documents, prompt, run))
    if tc.patience is not None:  # after the checkpoints, which put val_loss in the logs
        jobs.append(keras.callbacks.EarlyStopping("val_loss", patience=tc.patience, verbose=1))
    return jobs
