"""A training run's files beside its model file, and the rule for a second run (torch-free).

For ``--out runs/model.pt`` a run writes ``runs/model.pt`` when it ends and, after every
epoch, ``model.ckpt.pt``, ``model.best.pt``, ``model.metrics.jsonl`` and ``model.curve.png``
(:mod:`sg_lava.training.checkpoints`). A second run into the same ``--out`` would replace
them: it is refused unless it resumes the run (``--resume``) or replaces it
(``--overwrite``). Torch-free, so that the command line refuses before torch loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sg_lava.errors import UserError
from sg_lava.files import check_destination, output_lock, remove_stale_temporaries


@dataclass(frozen=True)
class RunFiles:
    """The paths of one run's files, named after the model file."""

    model: Path

    @classmethod
    def beside(cls, model_path: str | Path) -> RunFiles:
        return cls(Path(model_path))

    def _sibling(self, suffix: str) -> Path:
        stem = self.model.name[: -len(self.model.suffix)] if self.model.suffix else self.model.name
        return self.model.with_name(stem + suffix)

    @property
    def checkpoint(self) -> Path:
        return self._sibling(".ckpt.pt")

    @property
    def best(self) -> Path:
        return self._sibling(".best.pt")

    @property
    def metrics(self) -> Path:
        return self._sibling(".metrics.jsonl")

    @property
    def curve(self) -> Path:
        return self._sibling(".curve.png")

    @property
    def side_files(self) -> tuple[Path, ...]:
        """What every epoch writes (all but the model file)."""
        return (self.checkpoint, self.best, self.metrics, self.curve)

    @property
    def every(self) -> tuple[Path, ...]:
        """Every file a run writes."""
        return (self.model, *self.side_files)

    def existing(self) -> list[Path]:
        """The run's files that exist now."""
        return [p for p in self.every if p.exists()]

    @contextmanager
    def claimed(self) -> Iterator[None]:
        """Own the run's files while the block trains and writes them.

        One lock per model file (two runs into one ``--out`` would interleave their files),
        every destination checked before the first epoch, what a killed run left removed
        (its temporary files); if the block fails, the files it created are removed, so a
        failed run leaves nothing. Ctrl-C keeps them: the checkpoint is for ``--resume``.
        """
        with output_lock(self.model):
            for path in self.every:
                check_destination(path)
                remove_stale_temporaries(path)
            existed = {path for path in self.every if path.exists()}
            try:
                yield
            except KeyboardInterrupt:
                raise
            except BaseException:
                for path in set(self.every) - existed:
                    path.unlink(missing_ok=True)
                raise


def check_new_run(out: str | Path, resume: bool = False, overwrite: bool = False) -> RunFiles:
    """Refuse, in one line, a run that would silently replace another in ``out``.

    ``resume`` needs the checkpoint; otherwise files of an earlier run in ``out`` need
    ``overwrite``. Nothing is removed here (:func:`clear_run` does, when training starts).
    """
    files = RunFiles.beside(out)
    for path in files.every:  # a folder or a device where a file goes: that first
        check_destination(path)
    if resume and overwrite:
        raise UserError("--resume continues the run in --out, --overwrite replaces it: not both")
    if resume:
        if not files.checkpoint.is_file():
            raise UserError(f"nothing to resume: {files.checkpoint} not found")
        return files
    found = files.existing()
    if found and not overwrite:
        names = ", ".join(p.name for p in found)
        raise UserError(
            f"{out}: a run is already there ({names}); --resume continues or extends it "
            "(--epochs N), --overwrite replaces it"
        )
    return files


def clear_run(files: RunFiles) -> None:
    """Remove an earlier run's epoch files (``--overwrite``); its model file stays until the
    new run replaces it."""
    for path in files.side_files:
        path.unlink(missing_ok=True)
