"""Real S3 servers for tests: moto in-process, Ceph radosgw on loopback, and a fault-injecting proxy.

All of them bind 127.0.0.1 on ephemeral ports. The suite's fixtures on top of these context managers (`moto`,
`bucket`, `proxy`, `proxied`, `radosgw`, `rgw_bucket`) are in `upload_pipeline_tests/conftest.py`; a radosgw
cluster also offers `kill_rgw()` and `restart_rgw()` for crash tests, and a proxy's endpoint is
`moto.endpoint.with_url(proxy.endpoint_url)`.
"""

from .endpoint import S3Endpoint, create_bucket, delete_bucket, empty_bucket, unique_bucket_name
from .fault_proxy import FaultProxy
from .moto import MotoServer
from .radosgw import RadosgwCluster, RadosgwUnavailable
from .s3_ops import s3_operation
from .testing import fault_proxy, moto_server, radosgw_cluster, s3_bucket

__all__ = [
    "FaultProxy",
    "MotoServer",
    "RadosgwCluster",
    "RadosgwUnavailable",
    "S3Endpoint",
    "create_bucket",
    "delete_bucket",
    "empty_bucket",
    "fault_proxy",
    "moto_server",
    "radosgw_cluster",
    "s3_bucket",
    "s3_operation",
    "unique_bucket_name",
]
