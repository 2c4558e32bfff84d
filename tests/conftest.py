"""Suite-wide pytest hooks."""

import os

# The on-disk caches (sparsediff.cache) stay off in the suite, so that no test depends on an
# earlier run; tests/test_cache.py turns them on in temporary directories.
os.environ["SPARSEDIFF_CACHE"] = "off"

# SPARSEDIFF_EXPECT_BACKENDS: skips for lack of an expected optional backend fail the run.
from tests.expect_backends import (  # noqa: F401
    pytest_configure,
    pytest_make_collect_report,
    pytest_report_header,
    pytest_runtest_makereport,
)
