import numpy as np
import pytest
import torch

from core.errors import ModelLoadError, TooLongError
from core.model.engine import Engine, frame_count, load_engine, plan_batches, softmax
from core.model.labels import EMOTIONS
from tests.conftest import speechlike

LENGTHS_S = [0.5, 0.9, 1.7, 2.5, 3.3, 4.8, 6.1, 7.9, 9.4, 12.0]


@pytest.fixture(scope="module")
def clips():
    return [speechlike(s, seed=i) for i, s in enumerate(LENGTHS_S)]


@pytest.fixture(scope="module")
def reference(engine, clips):
    """funasr's own one-clip-at-a-time path on the same weights."""
    return engine._auto.generate(list(clips), granularity="utterance")


def test_batched_scores_and_embeddings_match_funasr_generate(engine, clips, reference):
    # A budget that forces several multi-clip, padded batches.
    predictions = engine.predict(clips, frames=True, max_batch_samples=16_000 * 40)
    assert len(plan_batches([len(c) for c in clips], 16_000 * 40)) < len(clips)
    for p, ref in zip(predictions, reference, strict=True):
        np.testing.assert_allclose(p.scores, ref["scores"], atol=1e-4)
        np.testing.assert_allclose(p.embedding, ref["feats"], atol=1e-4)
        np.testing.assert_allclose(p.frame_embeddings.mean(axis=0), p.embedding, atol=1e-5)
        assert p.labels == EMOTIONS


def test_padding_without_the_positional_fix_is_not_exact(engine, clips, reference):
    """Guards the fidelity test itself: naive padding drifts far beyond its tolerance."""
    batch = [clips[0], clips[-1]]
    source = torch.zeros(2, len(clips[-1]))
    for row, clip in enumerate(batch):
        c = torch.from_numpy(clip)
        source[row, : len(c)] = torch.nn.functional.layer_norm(c, c.shape)
    padding = torch.arange(source.shape[1])[None] >= torch.tensor([len(c) for c in batch])[:, None]
    with torch.inference_mode():
        x = engine.model.extract_features(source, padding_mask=padding)["x"]
        naive = torch.softmax(engine.model.proj(x[0, : frame_count(len(clips[0]))].mean(0)), -1)
    assert np.abs(naive.numpy() - np.array(reference[0]["scores"])).max() > 1e-4


def test_frames_have_a_20ms_hop_and_reproduce_the_utterance_score(engine, clips):
    p = engine.predict([clips[5]], frames=True)[0]
    assert p.frame_logits.shape == (frame_count(len(clips[5])), 9)
    assert p.frame_logits.shape[0] == int((4.8 * 16000 - 400) // 320 + 1)
    # The head is linear: softmax of the mean frame logit is the utterance score.
    np.testing.assert_allclose(softmax(p.frame_logits.mean(axis=0)), p.scores, atol=1e-5)
    np.testing.assert_allclose(p.frame_scores.sum(axis=1), 1.0, atol=1e-5)


def test_results_come_back_in_input_order(engine, clips):
    shuffled = [clips[i] for i in (9, 0, 4, 2)]
    one_by_one = [engine.predict([c])[0].scores for c in shuffled]
    together = [p.scores for p in engine.predict(shuffled, max_batch_samples=16_000 * 60)]
    np.testing.assert_allclose(np.stack(together), np.stack(one_by_one), atol=1e-6)


def test_progress_is_reported_per_batch(engine, clips):
    calls = []
    engine.predict(
        clips[:4], on_progress=lambda d, t: calls.append((d, t)), max_batch_samples=16_000 * 2
    )
    assert calls[-1] == (4, 4)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_plan_batches_respects_the_budget():
    lengths = [16_000 * s for s in (1, 9, 2, 3, 30, 4, 1)]
    budget = 16_000 * 10
    batches = plan_batches(lengths, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= budget
    assert [4] in batches  # longer than the budget: alone


def test_too_long_clip_is_refused(engine):
    with pytest.raises(TooLongError, match="at most 120 s"):
        engine.predict([np.zeros(16_000 * 121, np.float32)])


def test_engine_describes_itself(engine, tiny_model_dir):
    assert engine.untrained
    assert engine.embedding_dim == 64
    assert engine.display_name.endswith("(untrained test model)")
    assert engine.model_key == f"tiny-e2v@{engine.revision}"
    assert len(engine.revision) == 12
    assert isinstance(engine, Engine)


def test_a_checkpoint_missing_weights_is_refused(tmp_path, tiny_model_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    state = torch.load(broken / "model.pt")
    del state["proj.weight"]
    del state["blocks.0.attn.qkv.weight"]
    torch.save(state, broken / "model.pt")
    with pytest.raises(ModelLoadError, match="2 weights missing"):
        load_engine(str(broken), "cpu", threads=1)


def test_unknown_model_name_and_missing_files(tmp_path):
    with pytest.raises(ModelLoadError, match="neither a model directory nor a known model"):
        load_engine("emotion2vec_plus_huge", "cpu")
    (tmp_path / "config.yaml").write_text("model: Emotion2vec\n")
    with pytest.raises(ModelLoadError, match="has no model.pt"):
        load_engine(str(tmp_path), "cpu")


def test_hub_download_failure_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError, match="could not download .*--model DIR"):
        load_engine("emotion2vec_plus_seed", "cpu", hub="hf")


def test_half_precision_needs_a_gpu(tiny_model_dir):
    from core.errors import InputError

    with pytest.raises(InputError, match="bf16 needs a CUDA GPU"):
        load_engine(str(tiny_model_dir), "cpu", precision="bf16")


def test_hub_download_failure_on_the_web_page_names_no_command_line(monkeypatch):
    """The dashboard's engine adapter turns the CLI advice into advice for the page."""
    from streamlit.testing.v1 import AppTest

    import core.model.engine
    from core.errors import ModelDownloadError

    def unreachable(name, hub="ms", on_bytes=None):  # the hub is out of reach
        raise ModelDownloadError(f"iic/{name}", "ModelScope", "ConnectionError: offline")

    monkeypatch.setattr(core.model.engine, "resolve_model", unreachable)

    def page():
        import streamlit as st

        from dashboard import resources

        try:
            resources.engine("emotion2vec_plus_seed")
        except Exception as exc:
            st.text(f"{type(exc).__name__}: {exc}")

    at = AppTest.from_function(page).run()
    shown = at.text[0].value
    assert shown.startswith("ModelLoadError: Could not download iic/emotion2vec_plus_seed")
    assert "local model directory" in shown and "EMOSCOPE_MODELS_DIR" in shown
    assert "--" not in shown
