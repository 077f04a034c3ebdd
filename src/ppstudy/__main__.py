import sys

from ppstudy.cli import main

sys.exit(main())
