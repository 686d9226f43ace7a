#!/usr/bin/env python3
"""maxrss.py CMD ARGS...: run CMD, print the peak resident set size (KB) of it
and every descendant it waited for (getrusage RUSAGE_CHILDREN), exit with its status."""
import resource
import subprocess
import sys

status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(status)
