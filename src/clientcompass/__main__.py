import sys

from clientcompass.cli import main

sys.exit(main())
