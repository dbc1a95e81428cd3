import os
import sys

# Running from a source checkout with an in-place build (CRMCORE_INPLACE) works
# too: the installed package wins when both exist.
HERE = os.path.dirname(__file__)
