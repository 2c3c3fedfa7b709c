"""The one papermill runner of the studies: a run of ``notebooks/train.ipynb`` into a committed record folder."""
from __future__ import annotations

from ..jsonfile import write_json_atomic
from pathlib import Path

#: What a committed record folder holds: data, no MMEngine config dump (the record regenerates its
#: config, :mod:`fowkal.runs.runconfig`) and no executed notebook (its log, kept in the work root).
COPIED_FILES = ("run_record.json", "kaf_log.json", "loss_log.json", "loss_curve.json", "curve_log.json")


def run_train_notebook(folder, work_dir, *, notebook, parameters: dict, label: str, extra: dict | None = None,
                       log=print) -> bool:
    """One run of the train notebook, its record and logs (:data:`COPIED_FILES`) copied to ``folder``;
    False if it was there.

    Skipped when ``folder`` already holds a record; resumed when ``work_dir`` holds a checkpoint.
    The executed notebook stays beside the work dir (``<work_dir>.train.ipynb``).
    ``extra``: more JSON files to write beside the record (name -> object). The folder appears only
    once everything in it is written (a killed run leaves no partial record folder).
    """
    import shutil

    import papermill

    folder, work_dir = Path(folder), Path(work_dir)
    if (folder / "run_record.json").is_file():
        log(f"[runs] {label}: record exists, skipped")
        return False
    resume = (work_dir / "last_checkpoint").is_file()
    log(f"[runs] {label}: {'resuming' if resume else 'training'} in {work_dir}")
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    executed = work_dir.parent / f"{work_dir.name}.train.ipynb"
    papermill.execute_notebook(str(notebook), str(executed), log_output=False, progress_bar=False,
                               parameters=dict(parameters, work_dir=str(work_dir), resume=resume))
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in COPIED_FILES:
        if (work_dir / name).is_file():
            shutil.copy2(work_dir / name, tmp / name)
    for name, obj in (extra or {}).items():
        write_json_atomic(obj, tmp / name)
    tmp.replace(folder)
    return True
