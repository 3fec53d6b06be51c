"""What every benchmark records next to its rows: the machine, the date, the versions.

The performance page (tools/performance_page.py) prints it under each table, so a ratio
is never shown without the machine it was measured on.
"""

from __future__ import annotations

import datetime
import os
import platform

import numpy as np
import sklearn


def machine_info(**extra) -> dict:
    """Date (UTC), platform, CPU count, load, Python/NumPy/scikit-learn versions + extra."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        **extra,
    }
