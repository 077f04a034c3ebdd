"""The chapters' logic, one module per chapter (``ppstudy.studies.<chapter>``), each with its ``FIGURES``
registry of functions ``(manifest, run_dir) -> matplotlib Figure``."""
