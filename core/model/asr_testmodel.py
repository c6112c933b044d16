"""Write SenseVoice + fsmn-vad model directories with seeded random weights, loadable by funasr.

`tiny` is for tests (a 64-wide encoder; the ~25k-piece CTC layer dominates its size); `small` is
the real SenseVoice-Small architecture (50 + 20 SAN-M blocks of 512, ~234 M parameters), so its
compute cost is the real one: the benchmark uses it. Transcripts from such a directory mean
nothing; the marker file makes EmoScope label them "untrained test model".

SenseVoice hard-codes the ids of its language, emotion and text-normalisation tags (see
../shared/notes/sensevoice-in-funasr.md), so the vocabulary is a SentencePiece model trained on a
few sentences and then padded with unused placeholder pieces so that `<|en|>`, `<|HAPPY|>`,
`<|woitn|>` ... sit on exactly those ids. The CTC layer's bias keeps placeholders from ever
winning and lowers blank, so that random weights still decode to real, non-empty text.

The VAD directory (`fsmn-vad/` inside the SenseVoice one) has funasr's FSMN architecture with its
silence output biased away, and an energy threshold: it cuts at silence, deterministically.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from core.model.testmodel import MARKER_FILE

VAD_SUBDIR = "fsmn-vad"
BPE_FILE = "chn_jpn_yue_eng_ko_spectok.bpe.model"  # the name SenseVoiceSmall's own file has
VOCAB_SIZE = 25_055

# Tags on the ids SenseVoiceSmall's code hard-codes (languages, emotions, text norm); the event
# tags and the ids in between are ours (placeholders fill every other id).
TAG_IDS: dict[str, int] = {
    "<|zh|>": 24884, "<|en|>": 24885, "<|yue|>": 24888, "<|ja|>": 24892, "<|ko|>": 24896,
    "<|nospeech|>": 24992,
    "<|Speech|>": 24993, "<|BGM|>": 24994, "<|Laughter|>": 24995, "<|Applause|>": 24996,
    "<|Cry|>": 24997, "<|Sneeze|>": 24998, "<|Breath|>": 24999, "<|Cough|>": 25000,
    "<|HAPPY|>": 25001, "<|SAD|>": 25002, "<|ANGRY|>": 25003, "<|NEUTRAL|>": 25004,
    "<|FEARFUL|>": 25005, "<|DISGUSTED|>": 25006, "<|SURPRISED|>": 25007,
    "<|EMO_UNKNOWN|>": 25009, "<|Event_UNK|>": 25010,
    "<|withitn|>": 25016, "<|woitn|>": 25017,
}  # fmt: skip

SENTENCES = (
    "the customer asked about the refund for the broken phone",
    "please hold the line while I check your account",
    "thank you for calling, how can I help you today",
    "I am very angry about this bill and I want to cancel",
    "your order will arrive on monday morning",
    "我们会尽快处理您的退款申请",
    "谢谢您的耐心等待",
    "お電話ありがとうございます",
    "고객님 감사합니다",
)

# name -> (output_size, attention_heads, linear_units, num_blocks, tp_blocks)
ARCHITECTURES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (64, 4, 128, 2, 1),
    "small": (512, 4, 2048, 50, 20),  # iic/SenseVoiceSmall
}


def sensevoice_config(arch: str) -> dict:
    """The funasr config.yaml content of a SenseVoiceSmall directory."""
    size, heads, units, blocks, tp_blocks = ARCHITECTURES[arch]
    return {
        "encoder": "SenseVoiceEncoderSmall",
        "encoder_conf": {
            "output_size": size, "attention_heads": heads, "linear_units": units,
            "num_blocks": blocks, "tp_blocks": tp_blocks, "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1, "attention_dropout_rate": 0.1, "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
            "kernel_size": 11, "sanm_shfit": 0, "selfattention_layer_type": "sanm",
        },
        "model": "SenseVoiceSmall",
        "model_conf": {"length_normalized_loss": True, "sos": 1, "eos": 2, "ignore_id": -1},
        "tokenizer": "SentencepiecesTokenizer",
        "tokenizer_conf": {"bpemodel": BPE_FILE, "unk_symbol": "<unk>", "split_with_space": True},
        "frontend": "WavFrontend",
        "frontend_conf": {
            "fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
            "frame_shift": 10, "lfr_m": 7, "lfr_n": 6, "cmvn_file": "am.mvn", "dither": 0.0,
        },
    }  # fmt: skip


def vad_config() -> dict:
    """funasr's fsmn-vad config, with an energy threshold (the random network decides nothing)."""
    return {
        "frontend": "WavFrontendOnline",
        "frontend_conf": {
            "fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25,
            "frame_shift": 10, "dither": 0.0, "lfr_m": 5, "lfr_n": 1, "cmvn_file": "am.mvn",
        },
        "model": "FsmnVADStreaming",
        "model_conf": {
            "sample_rate": 16000, "detect_mode": 1, "snr_mode": 0, "max_end_silence_time": 800,
            "max_start_silence_time": 3000, "do_start_point_detection": True,
            "do_end_point_detection": True, "window_size_ms": 200,
            "sil_to_speech_time_thres": 150, "speech_to_sil_time_thres": 150,
            "speech_2_noise_ratio": 1.0, "do_extend": 1, "lookback_time_start_point": 200,
            "lookahead_time_end_point": 100, "max_single_segment_time": 60000,
            "snr_thres": -100.0, "noise_frame_num_used_for_snr": 100,
            # A 25 ms frame whose sum of squared samples (float scale) is under -35 dB, an RMS
            # under about -61 dBFS, is silence (quiet RAVDESS speech peaks near -20 dB).
            "decibel_thres": -35.0,
            "speech_noise_thres": 0.6, "fe_prior_thres": 0.0001, "silence_pdf_num": 1,
            "sil_pdf_ids": [0], "speech_noise_thresh_low": -0.1, "speech_noise_thresh_high": 0.3,
            "output_frame_probs": False, "frame_in_ms": 10, "frame_length_ms": 25,
        },
        "encoder": "FSMN",
        "encoder_conf": {
            "input_dim": 400, "input_affine_dim": 140, "fsmn_layers": 4, "linear_dim": 250,
            "proj_dim": 128, "lorder": 20, "rorder": 0, "lstride": 1, "rstride": 0,
            "output_affine_dim": 140, "output_dim": 248,
        },
    }  # fmt: skip


def write_cmvn(path: Path, dim: int, shift: float = -8.0, scale: float = 0.25) -> None:
    """An am.mvn in the Kaldi nnet text format funasr's load_cmvn reads."""
    shifts = " ".join([f"{shift:g}"] * dim)
    scales = " ".join([f"{scale:g}"] * dim)
    path.write_text(
        f"<Nnet>\n<Splice> {dim} {dim}\n[ 0 ]\n<AddShift> {dim} {dim}\n"
        f"<LearnRateCoef> 0 [ {shifts} ]\n<Rescale> {dim} {dim}\n"
        f"<LearnRateCoef> 0 [ {scales} ]\n</Nnet>\n"
    )


def write_vocabulary(path: Path) -> int:
    """Train a tiny SentencePiece model, then pad it so the tags land on their fixed ids.

    Returns the number of real (trained) pieces; they occupy ids 0 .. n-1."""
    import io

    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError as exc:
        raise ImportError(
            "the sensevoice test model needs sentencepiece: pip install -r requirements.txt"
        ) from exc
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_writer=buffer, vocab_size=120,
        model_type="bpe", character_coverage=1.0, bos_id=1, eos_id=2, unk_id=0,
        minloglevel=2, num_threads=1,
    )  # fmt: skip
    proto = pb.ModelProto()
    proto.ParseFromString(buffer.getvalue())
    trained = len(proto.pieces)
    # SenseVoice re-encodes each decoded piece alone for its timestamps: no "▁" may be added.
    proto.normalizer_spec.add_dummy_prefix = False
    by_id = {i: tag for tag, i in TAG_IDS.items()}
    for index in range(trained, VOCAB_SIZE):
        piece = proto.pieces.add()
        if index in by_id:
            piece.piece, piece.score, piece.type = (
                by_id[index],
                0.0,
                pb.ModelProto.SentencePiece.USER_DEFINED,
            )
        else:
            piece.piece, piece.score, piece.type = (
                f"<|unused{index}|>",
                0.0,
                pb.ModelProto.SentencePiece.UNUSED,
            )
    path.write_bytes(proto.SerializeToString())
    return trained


def make_sensevoice_test_model(directory: str | Path, arch: str = "tiny", seed: int = 0) -> Path:
    """Write a SenseVoiceSmall directory (config.yaml, model.pt, am.mvn, vocabulary) with seeded
    random weights, and its fsmn-vad in `fsmn-vad/`."""
    try:
        import torch
        from funasr.models.fsmn_vad_streaming.model import FsmnVADStreaming
        from funasr.models.sense_voice.model import SenseVoiceSmall
    except ImportError as exc:
        raise ImportError(
            "writing a test model needs torch and funasr: pip install -r requirements.txt"
        ) from exc

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    trained = write_vocabulary(out / BPE_FILE)
    config = sensevoice_config(arch)
    torch.manual_seed(seed)
    model = SenseVoiceSmall(
        encoder=config["encoder"], encoder_conf=config["encoder_conf"], input_size=560,
        vocab_size=VOCAB_SIZE, **config["model_conf"],
    )  # fmt: skip
    with torch.no_grad():
        bias = model.ctc.ctc_lo.bias
        bias[trained:] = -30.0  # placeholders never win
        for tag_id in TAG_IDS.values():
            bias[tag_id] = 0.0
        bias[0] = -1.0  # blank (id 0) lowered: random weights still emit text
    torch.save(model.state_dict(), out / "model.pt")
    cfg = dict(config, input_size=560, vocab_size=VOCAB_SIZE)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    write_cmvn(out / "am.mvn", 560)
    metas = {"init_param": "model.pt", "tokenizer_conf": {"bpemodel": BPE_FILE},
             "frontend_conf": {"cmvn_file": "am.mvn"}, "config": "config.yaml"}  # fmt: skip
    (out / "configuration.json").write_text(
        json.dumps({"framework": "pytorch", "file_path_metas": metas}, indent=2) + "\n"
    )
    marker = {"family": "sensevoice", "architecture": arch, "seed": seed,
              "note": "random weights: transcripts mean nothing"}  # fmt: skip
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")

    vad_dir = out / VAD_SUBDIR
    vad_dir.mkdir(exist_ok=True)
    vconf = vad_config()
    torch.manual_seed(seed + 1)
    vad = FsmnVADStreaming(encoder=vconf["encoder"], encoder_conf=vconf["encoder_conf"],
                           **vconf["model_conf"])  # fmt: skip
    with torch.no_grad():
        vad.encoder.out_linear2.linear.bias[0] = -30.0  # silence comes from the energy gate
    torch.save(vad.state_dict(), vad_dir / "model.pt")
    (vad_dir / "config.yaml").write_text(yaml.safe_dump(vconf, sort_keys=False))
    write_cmvn(vad_dir / "am.mvn", 400)
    vmetas = {"init_param": "model.pt", "frontend_conf": {"cmvn_file": "am.mvn"},
              "config": "config.yaml"}  # fmt: skip
    (vad_dir / "configuration.json").write_text(
        json.dumps({"framework": "pytorch", "file_path_metas": vmetas}, indent=2) + "\n"
    )
    (vad_dir / MARKER_FILE).write_text(json.dumps(dict(marker, family="fsmn-vad")) + "\n")
    return out
