"""Real S3 servers for tests: moto in-process, Ceph radosgw on loopback, and a fault-injecting proxy.

Fixtures for a conftest (all servers bind 127.0.0.1 on ephemeral ports):

    @pytest.fixture(scope="session")
    def moto():
        with moto_server() as server:
            yield server                                 # server.endpoint: S3Endpoint

    @pytest.fixture
    def s3_bucket_name(moto):
        with s3_bucket(moto.client()) as name:
            yield name

    @pytest.fixture
    def proxy(moto):
        with fault_proxy(moto.endpoint) as proxy:
            yield proxy                                  # moto.endpoint.with_url(proxy.endpoint_url)

    @pytest.fixture(scope="session")
    def radosgw(tmp_path_factory):
        with radosgw_cluster(tmp_path_factory.mktemp("radosgw")) as cluster:
            yield cluster                                # cluster.endpoint, kill_rgw(), restart_rgw()
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
