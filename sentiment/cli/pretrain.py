"""``sentiment pretrain``: a recurrent language model on unlabelled texts, for
``sentiment train --pretrained``."""

from __future__ import annotations

import click

from ..config import LanguageModelConfig, PretrainingConfig
from .dataclass_options import config_from_options, config_options
from .options import quiet_option, quiet_tensorflow, text_column_option, translate_errors


@click.command()
@click.option("--dataset", type=click.Choice(("imdb", "sst2", "goemotions")), default=None,
              help="Named data set: IMDB's 50,000 unlabelled reviews and its training "
              "reviews' texts (never the test reviews); for the others, their training texts.")
@click.option("--unlabelled", "unlabelled_files", multiple=True,
              type=click.Path(dir_okay=False), help="File of texts (one per line of a .txt "
              "file, or the --text-column of a CSV, TSV, JSON Lines or Parquet file); "
              "repeat for several.")
@click.option("--train", "train_file", type=click.Path(dir_okay=False), default=None,
              help="A labelled training file whose texts (--text-column) join the "
              "pretraining texts.")
@text_column_option
@config_options(LanguageModelConfig)
@config_options(PretrainingConfig)
@click.option("--output", "output_dir", type=click.Path(file_okay=False), required=True,
              help="Language model directory to write; an existing one is replaced only if "
              "it is empty or an earlier language model directory holding nothing else.")
@quiet_option
@translate_errors
def pretrain(dataset, unlabelled_files, train_file, text_column, output_dir, quiet,
             **settings):
    """Pretrain a next-token language model (sampled softmax) on unlabelled texts, then
    fine-tune classifiers from it with `sentiment train --pretrained DIR`.

    \b
      sentiment pretrain --dataset imdb --output models/imdb-lm
      sentiment pretrain --unlabelled tickets.txt --max-steps 2000 --output models/lm
      sentiment train --pretrained models/imdb-lm --freeze-epochs 1 --output models/clf
    """
    if not (dataset or unlabelled_files or train_file):
        raise click.UsageError("give the texts: --dataset NAME, --unlabelled FILE or --train "
                               "FILE")
    if dataset and (unlabelled_files or train_file):
        raise click.UsageError("give either --dataset or --unlabelled/--train files, not both")
    config = config_from_options(LanguageModelConfig, settings)  # ConfigError -> exit 2
    training = config_from_options(PretrainingConfig, settings)
    from ..artifacts import check_replaceable, output_lock
    from ..config import LANGUAGE_MODEL_ARTIFACT

    click.get_current_context().with_resource(output_lock(output_dir))
    check_replaceable(output_dir, LANGUAGE_MODEL_ARTIFACT)  # before minutes of reading
    from ..data import load_texts, load_unlabelled_dataset

    if dataset:
        texts, source = load_unlabelled_dataset(dataset)
    else:
        texts, names = [], []
        for path in unlabelled_files:
            texts += load_texts(path, text_column)
            names.append(str(path))
        if train_file:
            texts += load_texts(train_file, text_column)
            names.append(str(train_file))
        source = ", ".join(names)
    quiet_tensorflow()
    from ..pretraining import pretrain_language_model

    result = pretrain_language_model(texts, config, training, output_dir, source=source,
                                     verbose=0 if quiet else 1)
    run, held_out = result.metrics["training"], result.metrics["held_out"]
    click.echo(f"{run['steps']} steps, {run['tokens_seen']:,} tokens in {run['seconds']:.0f} s "
               f"({run['tokens_per_second']:,.0f} tokens/s)")
    click.echo(f"held-out perplexity {held_out['perplexity_before']:.1f} -> "
               f"{held_out['perplexity']:.1f} ({held_out['tokens']:,} tokens)")
    click.echo(f"language model saved to {output_dir}")
