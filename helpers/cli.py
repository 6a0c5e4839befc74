"""Command line: ``python -m helpers <command> --help``.

Commands
  sample    generate text from a zoo model or a training run
  train     train a model on a text file or folder (resumes an unfinished run)
  evaluate  validation loss / bits per character of a model on a text
  export    turn a training run into a zoo bundle with a model card
  zoo       list the pretrained models
  corpus    build a training text (gutenberg, hn, tweets, python, yelp)
  data      the registered data sets: list, fetch (into data/), path

Every setting is checked with its range before anything is read or written
(:mod:`helpers.settings`); a path named for writing (``--out``, ``export --name``,
``--run-dir``) follows :mod:`helpers.outputs`: no links, FIFOs or devices, nothing
replaced without ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import time
from pathlib import Path

# Only modules of the standard library and the package's light floors here: `sample` and
# `data` start in a fraction of a second. What imports NumPy, h5py or Keras (zoo, train,
# evaluate, the corpus builders, the encoder) is imported by the command that uses it.
from . import datasets, recipes
from .corpora import SOURCES, build_corpus
from .documents import wrapped, write_corpus
from .errors import TextgenError
from .machine import quiet_backend_start
from .outputs import check_target, write_file
from .paths import zoo_dir
from .settings import (
    ModelConfig,
    SampleConfig,
    TrainConfig,
    VocabConfig,
    add_flags,
    values_from_args,
)
from .textio import CorpusError, display_path, read_text, read_texts

__all__ = ["main", "build_parser"]


def _sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="generate text", description="Generate text.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--zoo", default=None, help="name of a pretrained model (see `zoo`)")
    src.add_argument("--run", default=None, help="a training run folder (uses best.keras)")
    p.add_argument("--prompt", default=None, help="text to start from (default: the model's)")
    add_flags(p, SampleConfig)  # length, temperature, top-k/p, greedy, num, seed
    p.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    p.add_argument("--unknown", choices=["error", "unk", "drop"], default="error",
                   help="what to do with prompt characters the model never saw")
    p.add_argument("--out", default=None, help="also write the samples to this file (a new "
                   "file; see --force)")
    _add_force(p)


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="replace what is already there; the old one is kept beside it as "
                        "NAME.previous")


def build_parser(explicit_only: bool = False) -> argparse.ArgumentParser:
    """The command line. ``explicit_only``: settings flags not given leave no attribute
    (so ``train`` can tell ``--units 256`` from the default 256)."""
    ap = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Character- and word-level text generation with LSTMs (Keras 3).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n"
               "  python -m helpers sample --zoo shakespeare_char --prompt 'ROMEO:' -t 0.7\n"
               "  python -m helpers train mybook.txt --run-dir runs/mybook --max-minutes 10\n"
               "  python -m helpers sample --run runs/mybook -n 3",
    )
    sub = ap.add_subparsers(dest="subcommand", required=True)
    _sample_parser(sub)
    _train_parser(sub, explicit_only)
    _evaluate_parser(sub)
    _export_parser(sub)
    _zoo_parser(sub)
    _corpus_parser(sub)
    _data_parser(sub)
    return ap


def _train_parser(sub, explicit_only: bool) -> None:
    p = sub.add_parser("train", help="train a model on a text",
                       description="Train a character (or word) LSTM on a text file or folder. "
                                   "Rerun with the same --run-dir to resume.")
    p.add_argument("corpus", help="a text file or a folder of text files")
    p.add_argument("--run-dir", default="runs/latest", help="checkpoints go here (runs/latest)")
    add_flags(p, VocabConfig)
    p.add_argument("--documents", action=argparse.BooleanOptionalAction, default=None,
                   help="the corpus holds documents wrapped in \\x02...\\x03 (default: what "
                        "the note `corpus` wrote beside it says, else no)")
    p.add_argument("--prompt", default="", help="start of the samples printed each epoch")
    p.add_argument("--fresh", action="store_true",
                   help="start over; an earlier run in --run-dir is moved to previous/")
    p.add_argument("--resume-from", choices=["last", "best"], default="last",
                   help="resume after the last epoch (default) or from best.keras")
    # every model and training setting, from the dataclasses that own them
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from a pretrained model: a zoo name (novels_char), a bundle "
                        "folder or a run folder; its architecture and vocabulary are kept "
                        "(the learning rate defaults to 1e-3)")
    p.add_argument("--new-tokens", choices=["add", "map"], default="add",
                   help="with --init-from: tokens of the text the model lacks are added to "
                        "its vocabulary (default) or mapped to the unknown token")
    p.add_argument("--recipe", choices=recipes.RECIPES, default=None,
                   help="start from measured settings (flags given here override them): "
                        + "; ".join(f"{r.name}: {r.what}" for r in recipes.RECIPES.values()))
    add_flags(p.add_argument_group("model"), ModelConfig, explicit_only=explicit_only)
    add_flags(p.add_argument_group("training"), TrainConfig, explicit_only=explicit_only)


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="loss of a model on a text")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--zoo")
    src.add_argument("--run")
    p.add_argument("text", help="a text file or a folder of text files to score")
    p.add_argument("--last-fraction", type=float, default=None,
                   help="score only the last part (e.g. 0.1 = a 90/10 validation split)")


def _export_parser(sub) -> None:
    p = sub.add_parser("export", help="make a zoo bundle from a training run")
    p.add_argument("run_dir")
    p.add_argument("--name", required=True)
    p.add_argument("--title", default=None)
    p.add_argument("--data", default="", help="data source and licence, for the card")
    p.add_argument("--command", default="", help="the training command, for the card")
    p.add_argument("--device", default="", help="where it trained, for the card")
    p.add_argument("--prompt", default="", help="default prompt")
    p.add_argument("--val-text", default=None, help="text to report the validation loss on")
    p.add_argument("--zoo-dir", default=None)
    _add_force(p)


def _zoo_parser(sub) -> None:
    p = sub.add_parser("zoo", help="list the pretrained models")
    p.add_argument("--write-tables", action="store_true",
                   help="regenerate the zoo table in README.md and zoo/README.md")
    p.add_argument("--check-tables", action="store_true",
                   help="exit 1 if a README's zoo table differs from the bundles")


def _corpus_parser(sub) -> None:
    p = sub.add_parser("corpus", help="build a training text from a source",
                       description="Write a training text built from a source.")
    p.add_argument("source", choices=list(SOURCES))
    p.add_argument("inputs", nargs="*", help="ids (gutenberg), files or folders")
    p.add_argument("--out", required=True, help="where to write the corpus (a new file; see "
                   "--force)")
    _add_force(p)
    p.add_argument("--mirror", default=None, help="Gutenberg mirror base URL")
    p.add_argument("--max-chars", type=int, default=None)


def _data_parser(sub) -> None:
    p = sub.add_parser("data", help="the registered data sets: list, fetch, path",
                       description="Every corpus the notebooks use, downloaded once into "
                                   "data/ with checksums. TEXTGEN_MIRROR points every "
                                   "download at a mirror (a URL or a folder laid out like "
                                   "data/).")
    p.add_argument("action", choices=["list", "fetch", "path"],
                   help="list: what is registered and cached; fetch: download into data/; "
                        "path: print the local path (fetching it first if needed)")
    p.add_argument("names", nargs="*", help="data set names (fetch: default all)")


def _load(args, backend: bool = True):
    """The model of ``--zoo``/``--run``; ``backend=False`` reads it without Keras (NumPy
    sampling only, no ``.model``), which starts in a fraction of a second."""
    from . import zoo  # NumPy and h5py: imported by the commands that read a model

    if args.run:
        return zoo.load_run(args.run, backend=backend)
    return zoo.load(args.zoo or "shakespeare_char", backend=backend)


def cmd_sample(args) -> int:
    # every setting and the output path are checked before the model is read
    sc = SampleConfig(**values_from_args(SampleConfig, args))
    if args.out is not None:
        check_target(args.out, force=args.force)
    # sampling runs on the NumPy engine: importing Keras would only delay the first character
    m = _load(args, backend=False)
    print(f"# {m!r}", file=sys.stderr)
    t0 = time.perf_counter()
    settings = dataclasses.asdict(sc)  # each sampling setting, by its name in generate()
    settings["n"] = settings.pop("num")
    samples = m.generate(args.prompt, stop=args.stop, unknown=args.unknown,
                         alternatives=0,  # the hover text of notebooks only
                         **settings)
    dt = time.perf_counter() - t0
    chunks = []
    for i, s in enumerate(samples):
        how = "greedy" if sc.greedy else f"temperature {sc.temperature}"
        head = f"--- sample {i + 1} ({how}, stopped by {s.stop_reason}) ---"
        chunks.append(f"{head}\n{s.full}\n")
    text = "\n".join(chunks)
    print(text)
    n_tok = sum(len(s.token_ids) for s in samples)
    print(f"# {n_tok} tokens in {dt:.2f}s ({n_tok / max(dt, 1e-9):,.0f} tokens/s)", file=sys.stderr)
    if args.out is not None:
        write_file(args.out, text, force=args.force)
        print(f"# written to {args.out}", file=sys.stderr)
    return 0


def _documents_flag(args) -> bool:
    """--documents/--no-documents, else the note `corpus` wrote beside the file: the
    decision is helpers.documents.wrapped's; this only says so when the note decided."""
    documents, note = wrapped(args.corpus, args.documents)
    if documents and note is not None:
        print(f"# documents wrapped in start/end tokens (from {note})", file=sys.stderr)
    return documents


def _train_settings(args) -> tuple[dict, dict, object, list[str]]:
    """The model and training settings a ``train`` command asks for (a recipe's, then the
    flags given: only those, so a resumed run can tell them from its own), all checked
    now, before the corpus is read or the run folder touched; the recipe, if any, and its
    notes on this machine (:func:`helpers.recipes.adapt`)."""
    given = build_parser(explicit_only=True).parse_args(args.argv)
    mc = values_from_args(ModelConfig, given)
    tc = values_from_args(TrainConfig, given)
    recipe, notes = None, []
    if args.init_from is not None and not args.init_from.strip():
        raise ValueError("--init-from needs a model: a zoo name (see `zoo`), a bundle folder "
                         "or a run folder.")
    if args.init_from:
        if args.recipe:
            raise ValueError("--recipe and --init-from do not combine: a pretrained model "
                             "brings its own network; give the training flags you want")
        from .finetune import train_settings  # NumPy: only a fine-tuning run needs it

        tc = train_settings(tc)
    elif args.recipe:
        recipe = recipes.get(args.recipe)
        mc, tc, notes = recipes.adapt(recipe, mc, tc)
    ModelConfig.from_dict({"vocab_size": 2, **mc})
    TrainConfig.from_dict(tc)
    from .rundir import RunDir  # NumPy: the training commands import it, not the command line

    RunDir(args.run_dir).check()  # before the corpus is read: a refusal costs nothing
    return mc, tc, recipe, notes


def cmd_train(args) -> int:
    # NumPy and Keras: the training commands import them, not the command line
    from .corpus_cache import load_corpus
    from .train import train

    vc = VocabConfig(**values_from_args(VocabConfig, args))
    mc, tc, recipe, notes = _train_settings(args)
    if args.init_from:
        return _fine_tune(args, Path(args.corpus), mc, tc)
    documents = _documents_flag(args)  # a note that cannot be trusted: before any encoding
    t0 = time.perf_counter()
    # load_corpus decides how: encoded once in chunks into the cache and reused by the next
    # run on this corpus, or read into memory (TEXTGEN_CORPUS_CACHE=0)
    corpus = load_corpus(Path(args.corpus), word_level=vc.word_level,
                         max_words=vc.max_words, min_count=vc.min_count)
    print(f"# corpus ready in {time.perf_counter() - t0:.2f} s: {len(corpus):,} tokens, "
          f"{corpus.how}", file=sys.stderr, flush=True)
    if recipe is not None:
        print(f"# recipe {recipe.name}: {recipe.what} (measured: {recipe.measured})",
              file=sys.stderr, flush=True)
        for note in notes:
            print(f"# note: {note}", file=sys.stderr, flush=True)
    r = train(corpus, args.run_dir, mc, tc, documents=documents, resume=not args.fresh,
              resume_from=args.resume_from, prompt=args.prompt)  # the corpus's vocabulary
    print(r)
    return 0


def _fine_tune(args, corpus: os.PathLike, mc: dict, tc: dict) -> int:
    from .train import train

    # the corpus as a path: train() counts it for the pretrained vocabulary to grow, then
    # encodes it through the corpus cache (helpers.corpus_cache.load_corpus)
    # mc: only what was asked (the pretrained model decides the rest)
    if args.word_level:
        print("# --word-level is decided by the pretrained model's vocabulary", file=sys.stderr)
    r = train(corpus, args.run_dir, mc, tc, documents=_documents_flag(args),
              resume=not args.fresh, resume_from=args.resume_from, prompt=args.prompt,
              init_from=args.init_from, new_tokens=args.new_tokens)
    print(r)
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import text_loss  # Keras

    if args.last_fraction is not None and not 0 < args.last_fraction <= 1:  # NaN too
        raise ValueError(f"--last-fraction must be in (0, 1], e.g. 0.1; not {args.last_fraction}")
    text = read_texts(Path(args.text))  # first: bad text is refused before a model loads
    m = _load(args)
    if args.last_fraction:
        text = text[int(len(text) * (1 - args.last_fraction)):]
    r = text_loss(m.model, m.vocab, text)
    print(json.dumps(r, indent=1))
    return 0


def cmd_export(args) -> int:
    from .zoo import export_run  # NumPy and h5py

    bundle = export_run(args.run_dir, args.name, zoo_dir=args.zoo_dir, title=args.title,
                        data=args.data, command=args.command, device=args.device,
                        prompt=args.prompt,
                        val_text=read_text(args.val_text) if args.val_text else None,
                        force=args.force)
    print(f"exported {bundle!r} to {display_path(bundle.path)}")
    return 0


def cmd_zoo(args) -> int:
    from .zoo import available, load, write_tables  # NumPy and h5py

    if args.write_tables or args.check_tables:
        stale = write_tables(check=args.check_tables)
        for readme in stale:
            print(f"{'stale' if args.check_tables else 'updated'}: {display_path(readme)}")
        return 1 if args.check_tables and stale else 0

    names = available()
    if not names:
        print(f"No models in {display_path(zoo_dir())}.")
    for n in names:
        print(load(n, verify=False))
    return 0


def cmd_corpus(args) -> int:
    check_target(args.out, force=args.force)  # before the work: a refusal costs nothing
    text, stats = build_corpus(args.source, args.inputs, mirror=args.mirror,
                               max_chars=args.max_chars)
    if not text.strip():
        raise CorpusError(f"The {args.source} corpus came out empty; nothing was written to "
                          f"{args.out}. Check the inputs.")
    # the note beside the text tells `train` whether it is wrapped documents
    write_corpus(args.out, text, documents=stats.get("documents", False), source=args.source,
                 inputs=list(args.inputs), chars=len(text), force=args.force)
    print(json.dumps(stats, indent=1, ensure_ascii=False))
    return 0


def cmd_data(args) -> int:
    if args.action == "list":
        print(f"{'name':18} {'cached':6} {'size':>9}  licence / description")
        for r in datasets.status():
            size = f"{r['bytes'] / 1e6:.2f} MB" if r["bytes"] else "varies"
            print(f"{r['name']:18} {'yes' if r['cached'] else 'no':6} {size:>9}  {r['licence']}\n"
                  f"{'':37}{r['description']}\n{'':37}-> {r['path']}")
        return 0
    names = args.names or (datasets.names() if args.action == "fetch" else [])
    if not names:
        raise ValueError("Name a data set; `python -m helpers data list` shows them.")
    for name in names:  # "path" fetches too, so that $(python -m helpers data path X) works
        path = datasets.fetch(name)
        print(path if args.action == "path" else f"{name}: {display_path(path)}")
    return 0


COMMANDS = {"sample": cmd_sample, "train": cmd_train, "evaluate": cmd_evaluate,
            "export": cmd_export, "zoo": cmd_zoo, "corpus": cmd_corpus, "data": cmd_data}


def error_line(e: BaseException) -> str:
    """One line for an expected failure: the package's own message, or for an operating
    system error the path and what went wrong (``cannot write runs/x: No space left``)."""
    if isinstance(e, OSError) and not isinstance(e, TextgenError) and e.strerror:
        where = f" {display_path(e.filename)}" if e.filename else ""
        hint = {errno.ENOSPC: " Free some disk space, or choose a folder on another disk.",
                errno.EACCES: " Choose a folder you can write to.",
                errno.EROFS: " Choose a folder you can write to.",
                errno.ENOTDIR: " A part of that path is a file, not a folder.",
                errno.EEXIST: " It is in the way: choose another path."}.get(e.errno, "")
        msg = f"cannot use{where}: {e.strerror}.{hint}"
    else:
        msg = str(e) or type(e).__name__
        if isinstance(e, KeyError) and not isinstance(e, TextgenError) and e.args:
            # str(KeyError) is the repr of its argument: a sentence keeps its words, a bare
            # key says it is missing
            arg = e.args[0]
            msg = arg if isinstance(arg, str) and " " in arg else f"missing {msg}"
    # one line, and never a password that came with a URL
    words = [datasets.redact_url(w) if "://" in w else w for w in " ".join(msg.split()).split(" ")]
    return "error: " + " ".join(words)


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected failure is one ``error:`` line and exit status 2
    (``TEXTGEN_DEBUG=1`` shows the traceback instead)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    # those three never need Keras (sampling runs on the NumPy engine: importing Keras
    # would only delay the first character); the others start it without TensorFlow's
    # start-up lines, also where Keras imports TensorFlow later on another backend
    if args.subcommand not in ("data", "corpus", "sample"):
        quiet_backend_start()
    try:
        return COMMANDS[args.subcommand](args)
    except (TextgenError, OSError, ValueError, KeyError) as e:
        if os.environ.get("TEXTGEN_DEBUG"):
            raise
        print(error_line(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = ("checkpoints written so far are kept; rerun to resume"
                if args.subcommand == "train" else "nothing half-written is left")
        print(f"error: interrupted ({kept})", file=sys.stderr)
        return 130
