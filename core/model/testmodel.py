"""Write emotion2vec model directories with seeded random weights, loadable by funasr's AutoModel.

`tiny` is for tests (195 k parameters, loads in ~0.1 s). `base` and `large` have the real
architectures of emotion2vec_plus_base / _large and therefore their real compute cost: the
benchmark uses them. Scores from such a directory mean nothing; a marker file makes EmoScope label
every output of it "untrained test model".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from core.model.labels import TOKENS

MARKER_FILE = "emoscope-untrained.json"

_AUDIO_BASE = {
    "type": "AUDIO", "prenet_depth": 4, "prenet_layerdrop": 0.0, "prenet_dropout": 0.0,
    "start_drop_path_rate": 0.0, "end_drop_path_rate": 0.0, "num_extra_tokens": 10,
    "init_extra_token_zero": True, "mask_noise_std": 0.01, "mask_prob_min": None,
    "mask_prob": 0.5, "inverse_mask": False, "mask_prob_adjust": 0.05, "keep_masked_pct": 0.0,
    "mask_length": 5, "add_masks": False, "remove_masks": False, "mask_dropout": 0.0,
    "encoder_zero_mask": True, "mask_channel_prob": 0.0, "mask_channel_length": 64,
    "ema_local_encoder": False, "local_grad_mult": 1.0, "use_alibi_encoder": True,
    "alibi_scale": 1.0, "learned_alibi": False, "alibi_max_pos": None,
    "learned_alibi_scale": True, "learned_alibi_scale_per_head": True,
    "learned_alibi_scale_per_layer": False, "num_alibi_heads": 12, "model_depth": 8,
    "decoder": None, "extractor_mode": "layer_norm",
    # Strides 5*2^6 = 320 samples: the 20 ms frame hop every architecture here keeps.
    "feature_encoder_spec": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",
    "conv_pos_width": 95, "conv_pos_groups": 16, "conv_pos_depth": 5, "conv_pos_pre_ln": False,
}  # fmt: skip

_MODEL_BASE = {
    "loss_beta": 0.0, "loss_scale": None, "depth": 8, "start_drop_path_rate": 0.0,
    "end_drop_path_rate": 0.0, "num_heads": 12, "norm_eps": 1e-05, "norm_affine": True,
    "encoder_dropout": 0.1, "post_mlp_drop": 0.1, "attention_dropout": 0.1,
    "activation_dropout": 0.0, "dropout_input": 0.0, "layerdrop": 0.0, "embed_dim": 768,
    "mlp_ratio": 4.0, "layer_norm_first": False, "average_top_k_layers": 8,
    "end_of_block_targets": False, "clone_batch": 8, "extractor_mode": "layer_norm",
    "supported_modality": "AUDIO", "normalize": True,
}  # fmt: skip

# name -> (embed_dim, depth, prenet_depth, heads, conv_channels)
ARCHITECTURES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (64, 2, 1, 4, 32),
    "base": (768, 8, 4, 12, 512),
    "large": (1024, 16, 8, 16, 512),
}


def model_config(arch: str) -> dict:
    """The funasr config.yaml content for one architecture."""
    embed, depth, prenet, heads, conv = ARCHITECTURES[arch]
    audio = copy.deepcopy(_AUDIO_BASE)
    audio.update(prenet_depth=prenet, num_alibi_heads=heads, model_depth=depth)
    audio["feature_encoder_spec"] = (
        f"[({conv}, 10, 5)] + [({conv}, 3, 2)] * 4 + [({conv},2,2)] + [({conv},2,2)]"
    )
    model_conf = copy.deepcopy(_MODEL_BASE)
    model_conf.update(embed_dim=embed, depth=depth, num_heads=heads, modalities={"audio": audio})
    return {
        "model": "Emotion2vec",
        "model_conf": model_conf,
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
    }


def make_test_model(directory: str | Path, arch: str = "tiny", seed: int = 0) -> Path:
    """Write config.yaml, model.pt (seeded random weights) and tokens.txt into `directory`."""
    import torch
    from funasr.models.emotion2vec.model import Emotion2vec

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    config = model_config(arch)
    torch.manual_seed(seed)
    model = Emotion2vec(model_conf=config["model_conf"], vocab_size=len(TOKENS))
    torch.save(model.state_dict(), out / "model.pt")
    (out / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    (out / "tokens.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    marker = {"architecture": arch, "seed": seed, "note": "random weights: scores mean nothing"}
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
    return out
