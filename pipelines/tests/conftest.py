import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: runs the whole pipeline with LocalDagRunner"
    )


@pytest.fixture(scope="session")
def demo_data_root(tmp_path_factory):
    from pipelines.demo_data import write_demo_csvs

    root = tmp_path_factory.mktemp("demo_data")
    write_demo_csvs(str(root), num_rows=800, seed=0)
    return str(root)
