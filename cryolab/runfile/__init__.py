"""The run file: its contract (schema), the writer, the reader, CSV export, repair after a
crash, the writer's lock, the disk-space guard, and the upgrade of older layouts."""

from cryolab.runfile.export import export_csv
from cryolab.runfile.lock import WriterLock, is_being_written
from cryolab.runfile.reader import RunFile, StepRecord, SummaryRecord, open_runs, steps_completed
from cryolab.runfile.repair import clear_write_flag
from cryolab.runfile.schema import RunFileError, StorageError
from cryolab.runfile.upgrade import upgrade_layout
from cryolab.runfile.writer import RunWriter

__all__ = ["RunFile", "RunFileError", "RunWriter", "StepRecord", "StorageError",
           "SummaryRecord", "WriterLock", "clear_write_flag", "export_csv", "is_being_written",
           "open_runs", "steps_completed", "upgrade_layout"]
