# Always fails.
import sys

sys.stderr.write("permanent\n")
sys.exit(1)
