"""Image ciphers, one module per scheme, all with the same shape: ``keygen`` / ``encrypt`` / ``decrypt`` /
``key_space``. Keys are frozen dataclasses that record the image shape they fit; every cipher is vectorised
over the batch and refuses bad input with :class:`ppstudy.InputError`."""
