import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# Small enough for seconds of training, large enough for a real signal.
TEST_HYPERPARAMETERS = {
    "epochs": 3,
    "batch_size": 64,
    "learning_rate": 0.02,
    "output_dim": 8,
    "check_every": 5,
    "alpha": 0.0,
    "max_dim": 3,
}


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


@pytest.fixture
def hyperparameters():
    return dict(TEST_HYPERPARAMETERS)
