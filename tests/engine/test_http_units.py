"""Pure parts of the HTTP layer: flags, request expansion, metric parsing, JSON output."""

from __future__ import annotations

import pytest

from sgl_notebook.engine.core.step_stats import DecodeStats, PrefillStats
from sgl_notebook.engine.http.generate_input import GenerateReqInput, expand_request
from sgl_notebook.engine.http.json_response import dumps
from sgl_notebook.engine.http.metrics_collector import EngineMetrics
from sgl_notebook.engine.server_args import ArgsError, parse_args
from sgl_notebook.protocol.sglang_format import format_decode_batch, format_prefill_batch


def test_defaults_follow_sglang_server_args():
    args = parse_args([])
    assert (args.model_path, args.host, args.port) == ("smollm2", "127.0.0.1", 30000)
    assert args.served_model_name == "smollm2" and args.tokenizer_path == "smollm2"
    assert args.decode_log_interval == 40 and args.log_level == "info"
    assert repr(args).startswith("ServerArgs(model_path='smollm2', ")


def test_sglang_only_flags_are_ignored_with_their_values():
    args = parse_args([
        "--model-path", "m", "--mem-fraction-static", "0.8", "--tp", "2",
        "--cuda-graph-bs", "1", "2", "4", "--disable-cuda-graph", "--enable-metrics",
        "--attention-backend=triton", "--served-model-name", "alias",
    ])
    assert args.model_path == "m" and args.enable_metrics and args.served_model_name == "alias"
    assert args.ignored_flags == ["--mem-fraction-static 0.8", "--tp 2", "--cuda-graph-bs 1 2 4",
                                  "--disable-cuda-graph", "--attention-backend=triton"]
    assert "ignored_flags" not in repr(args) and "ignored_flags" not in args.as_info()


def test_unknown_and_bad_flags_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--no-such-flag"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--log-level", "loud"])
    with pytest.raises(ArgsError, match="not valid JSON"):
        parse_args(["--preferred-sampling-params", "{bad"])


def test_expand_single_batch_and_n():
    single = expand_request(GenerateReqInput(text="hi", rid="r"))
    assert single.is_single and [i.rid for i in single.items] == ["r"]
    batch = expand_request(GenerateReqInput(text=["a", "b"], rid="r"))
    assert not batch.is_single and [i.rid for i in batch.items] == ["r_0", "r_1"]
    n = expand_request(GenerateReqInput(text=["a", "b"], sampling_params={"n": 3}))
    assert [i.text for i in n.items] == ["a", "a", "a", "b", "b", "b"]
    assert len({i.rid for i in n.items}) == 6
    assert [p.sampling_params["max_new_tokens"] for p in n.prefix_items] == [0, 0]
    ids = expand_request(GenerateReqInput(input_ids=[[1, 2], [3]]))
    assert [i.input_ids for i in ids.items] == [[1, 2], [3]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (GenerateReqInput(), "Either text, input_ids or input_embeds should be provided."),
        (GenerateReqInput(text="a", input_ids=[1]), "Either text, input_ids"),
        (GenerateReqInput(input_ids=[]), "input_ids cannot be empty."),
        (GenerateReqInput(text=["a", "b"], rid=["x"]), "The specified rids length mismatch"),
        (GenerateReqInput(text=["a", "b"], sampling_params=[{"n": 2}, {"n": 3}]),
         "The parallel_sample_num should be the same"),
        (GenerateReqInput(text="a", return_logprob=[True], sampling_params={"n": 2}),
         "Cannot use list return_logprob with parallel_sample_num > 1"),
    ],
)
def test_expand_errors_use_sglang_messages(body, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_request(body)


def test_gauges_follow_the_step_records():
    metrics = EngineMetrics("m")
    prefill = PrefillStats(
        new_seq=2, new_token=30, cached_token=10, token_usage=0.25, running_req=1, queue_req=3)
    assert prefill.message() == format_prefill_batch(
        new_seq=2, new_token=30, cached_token=10, token_usage=0.25, running_req=1, queue_req=3)
    metrics.observe_step(prefill)
    assert metrics.cache_hit_rate._value.get() == 0.25
    assert metrics.num_queue_reqs._value.get() == 3 and metrics.token_usage._value.get() == 0.25
    decode = DecodeStats(
        running_req=4, num_token=77, token_usage=0.5, gen_throughput=12.5, queue_req=0)
    assert decode.message() == format_decode_batch(
        running_req=4, num_token=77, token_usage=0.5, gen_throughput=12.5, queue_req=0)
    metrics.observe_step(decode)
    assert metrics.num_used_tokens._value.get() == 77
    assert metrics.gen_throughput._value.get() == 12.5
    assert metrics.cache_hit_rate._value.get() == 0.0  # 0.4.10 resets it on decode ticks


def test_json_output_is_compact_and_finite():
    assert dumps({"a": [float("-inf"), 0.5], "b": "é"}) == '{"a":[null,0.5],"b":"é"}'
