"""A protocol-faithful local Hugging Face Hub for tests and benchmarks.

Implements the HTTP protocol that huggingface_hub 2.4.0 and datasets 5.2.0 speak (see
/work/shared/hub-protocol.md): repos, refs, NDJSON commits, LFS batch/basic/multipart uploads, resolve with
Range, tree/paths-info/commit listings, pull requests. Clients must run with `HF_HUB_DISABLE_XET=1`; see
`testing.py` for the client environment.

    with HubServer(tmp_path / "hub") as hub:
        api = HfApi(endpoint=hub.url, token="t")
"""

from .counters import Counters, RequestRecord
from .faults import FaultInjector, FaultRule
from .server import HubServer

__all__ = ["Counters", "FaultInjector", "FaultRule", "HubServer", "RequestRecord"]
