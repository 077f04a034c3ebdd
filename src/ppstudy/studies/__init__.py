"""The chapters' logic, one module per chapter (``ppstudy.studies.<chapter>``), each with its ``FIGURES``
registry of functions ``(manifest, run_dir) -> matplotlib Figure``; ``common`` holds what they share
(starting a chapter's run, loading CIFAR-10)."""
